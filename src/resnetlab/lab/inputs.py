"""Data, images and models for the lab: the shared "what do we feed it" decisions.

Real datasets are read from ``--data-dir``; ``--quick`` falls back on the embedded ``digits``
when none is given, so every experiment can run anywhere (and says so in its verdict).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.transforms.v2 import functional as TF

from resnetlab.data import canonical_name, channel_stats, fit, load, normalize, read_image
from resnetlab.errors import DataError
from resnetlab.i18n import N_, _
from resnetlab.lab.runs import newest_fitting_run
from resnetlab.models.cards import get_card
from resnetlab.models.factory import create_model
from resnetlab.models.hub.loader import load_model

# What a dataset's directory typically looks like once unpacked, for error messages only.
_EXAMPLE_DIRS = {
    "cifar10": "~/data/cifar-10-batches-py",
    "fashion-mnist": "~/data/fashion-mnist/FashionMNIST/raw",
}
# How a test image is named: in English in results.json, translated where it is shown.
_TEST_IMAGE = N_("{dataset} test image #{index}")


@dataclass
class LabData:
    """A loaded bundle plus a note for the verdict when a fallback was used."""

    bundle: Any  # resnetlab.data.DataBundle
    note: str | None = None

    @property
    def name(self) -> str:
        return self.bundle.name


def load_lab_data(name: str, data_dir: str | Path | None, quick: bool, *,
                  image_size: int | None = None) -> LabData:
    """Dataset ``name`` from ``data_dir``; without a directory, digits in ``--quick`` mode.

    A missing directory is a one-line :class:`DataError` naming ``--data-dir``.
    """
    key = canonical_name(name)
    if key == "digits":
        return LabData(load("digits", image_size=image_size))
    if data_dir is None:
        if quick:
            note = _("no --data-dir given: --quick used the embedded digits dataset instead "
                     "of {dataset}").format(dataset=key)
            return LabData(load("digits", image_size=image_size), note)
        example = _EXAMPLE_DIRS.get(key, "DIR")
        raise DataError(f"{key} is read from disk: pass --data-dir DIR (e.g. --data-dir {example}),"
                        " or add --quick to run on the embedded digits instead")
    if not Path(data_dir).expanduser().exists():
        raise DataError(f"--data-dir {data_dir} does not exist; pass the directory that holds "
                        f"{key} (e.g. {_EXAMPLE_DIRS.get(key, 'its files')})")
    return LabData(load(key, Path(data_dir).expanduser(), image_size=image_size))


@dataclass
class LabModel:
    """A model with the facts needed to feed it (``model.json``-style ``meta``).

    ``source`` is where trained weights came from (``--weights`` or a run found under
    ``./runs``); ``found`` says the lab picked the run itself, ``note`` tells the user so.
    """

    model: nn.Module
    meta: dict[str, Any]
    name: str
    trained: bool
    source: str | None = None
    found: bool = False
    note: str | None = None

    @property
    def state(self) -> str:
        """How titles and verdicts name the weights: ``trained: RUN`` or ``untrained``."""
        if not self.trained:
            return _("untrained")
        return _("trained: {source}").format(source=self.source)


def load_lab_model(model_name: str | None, weights: str | Path | None, *, default: str,
                   in_chans: int = 3, data: str | None = None,
                   untrained: bool = False) -> LabModel:
    """Trained weights, else the newest finished run that fits, else a fresh random model.

    ``weights`` (run dir, safetensors, published tag) are loaded with
    :func:`resnetlab.models.hub.loader.load_model`, which reads a saved model's ``model.json``
    (or the ImageNet preset for raw published weights). Without them (and unless
    ``untrained``), the newest finished run under ``./runs`` whose model is ``model_name`` and
    whose data is ``data`` (each when given) is used (:mod:`resnetlab.lab.runs`). A fresh
    model gets the input size of its model card and no statistics (``mean``/``std`` are
    filled in from the image source by :func:`sample_input`).
    """
    found, note = False, None
    if weights is None and not untrained:
        run = newest_fitting_run(model_name, data)
        if run is not None:
            weights, found = run.path, True
            note = _("no --weights given: using the newest finished run {run} ({model} trained "
                     "on {data})").format(
                         run=run.path, model=run.model, data=run.data or "?")
    if weights is not None:
        model, meta = load_model(str(weights), model_name)
        return LabModel(model, dict(meta), str(meta.get("model", model_name)), True,
                        str(weights), found, note)
    name = model_name or default
    card = get_card(name)
    model = create_model(name, num_classes=card.num_classes, in_chans=in_chans).eval()
    size = [in_chans, *card.input_size[1:]]
    return LabModel(model, {"model": name, "input_size": size, "classes": None}, name, False)


def data_for(lab_model: LabModel, image: str | Path | None, data: str | None,
             data_dir: str | Path | None, quick: bool) -> LabData | None:
    """What to draw test images from: none for ``--image``; ``--data``; else the data the
    model was trained on, from the directory its run recorded (digits when that is gone)."""
    if image is not None:
        return None
    if data is not None:
        return load_lab_data(data, data_dir, quick)
    trained_on = (lab_model.meta.get("data") or {}) if lab_model.trained else {}
    name, root = trained_on.get("name"), data_dir or trained_on.get("root")
    if name in (None, "digits"):
        return load_lab_data("digits", None, quick)
    if root is None or not Path(root).expanduser().exists():
        # ImageNet weights, or a run whose data moved: show a digit rather than fail.
        lab_data = load_lab_data("digits", None, quick)
        lab_data.note = _("the model was trained on {dataset}, whose files are not here: showing "
                          "an embedded digit instead (pass --data-dir DIR or --image PATH)"
                          ).format(dataset=name)
        return lab_data
    return load_lab_data(name, root, quick)


def _match_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey → RGB by repetition, RGB → grey by averaging."""
    if image.shape[0] == channels:
        return image
    if image.shape[0] == 1:
        return image.expand(channels, -1, -1).contiguous()
    grey = image.to(torch.float32).mean(dim=0, keepdim=True).round().to(torch.uint8)
    return grey.expand(channels, -1, -1).contiguous()


@dataclass
class SampleInput:
    """One image: ``pixels`` (uint8 C×H×W at the model's input size) and normalized ``x``.

    ``source`` names the image in English for results.json (a path, or ``digits test image
    #0``); :attr:`shown_as` is the same in the current language, for figures and verdicts.
    """

    pixels: torch.Tensor
    x: torch.Tensor
    source: str
    label: str | None = None
    dataset: str | None = None  # with ``index``: where a test image came from
    index: int | None = None

    @property
    def shown_as(self) -> str:
        """How figures and verdicts name the image, in the current language."""
        if self.dataset is None:
            return self.source
        return _(_TEST_IMAGE).format(dataset=self.dataset, index=self.index)


def sample_input(lab_model: LabModel, image: str | Path | None, data: LabData | None,
                 index: int = 0) -> SampleInput:
    """The model input for ``--image PATH``, else test image ``index`` of ``data``.

    Trained models are fed with their own statistics (``model.json``); fresh ones with those
    of the image's dataset (or, for a lone file, the image's own), as a model trained on that
    data would be.
    """
    meta = lab_model.meta
    channels, size = int(meta["input_size"][0]), tuple(int(s) for s in meta["input_size"][1:])
    label, dataset = None, None
    if image is not None:
        path = Path(image).expanduser()
        if not path.is_file():
            raise DataError(f"--image {path} does not exist; pass an image file (PNG, JPEG...)")
        raw, source = read_image(path, channels), str(path)
        stats = channel_stats(raw[None])
    else:
        if data is None:
            raise DataError("no image to show: pass --image PATH or --data NAME --data-dir DIR")
        test = data.bundle.test
        if not 0 <= index < len(test):
            raise DataError(f"--index {index} is outside the {len(test)} test images; "
                            f"pass 0..{len(test) - 1}")
        raw, dataset = test.images[index], data.name
        source = _TEST_IMAGE.format(dataset=dataset, index=index)
        label = test.classes[int(test.labels[index])]
        stats = (test.mean, test.std)
    raw = _match_channels(raw, channels)
    resize = meta.get("resize_size") if lab_model.trained else None
    if resize:  # the ImageNet evaluation transform: shorter side to ``resize``, centre crop
        pixels = TF.center_crop(fit(raw, int(resize)), list(size))
    else:
        pixels = fit(raw, size)
    if lab_model.trained:
        mean, std = meta["mean"], meta["std"]
    else:
        mean, std = stats
        if len(mean) != channels:  # a grey source for an RGB model, or the reverse
            m, s = sum(mean) / len(mean), sum(std) / len(std)
            mean, std = (m,) * channels, (s,) * channels
    x = normalize(pixels[None], mean, std)
    return SampleInput(pixels, x, source, label, dataset, None if dataset is None else index)
