"""Weights in and out: ``load_weights`` (files, URLs, published tags) and ``save_weights``.

>>> model = create_model("resnet50")
>>> load_weights(model, "resnet50-0676ba61.pth")        # torchvision, timm, safetensors…
>>> load_weights(model, "IMAGENET1K_V1")                # the published torchvision weights
>>> save_weights(model, "out/model.safetensors", {"classes": [...]})  # + out/model.json

These are the only ways weights enter or leave a model: training's ``--weights``, fine-tuning,
the lab and :func:`resnetlab.models.hub.loader.load_model` all call :func:`load_weights`; runs,
fine-tunes and ``save_weights`` users all write through :func:`save_weights`.

Weights with NaN or infinite values are refused (:class:`CheckpointError`). Loading is strict
by default: any missing, unexpected or reshaped key raises a one-line
:class:`CheckpointError` naming the first one (and, when it can tell, the architecture the
file was made for). ``strict=False`` loads what fits and reports the rest, e.g. a backbone
whose classifier has another number of classes; ``new_head=True`` stays strict for everything
but the classifier, which is left fresh when the file's does not fit (or is absent).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save
from torch import nn

from resnetlab.errors import CheckpointError, ConfigError
from resnetlab.files import atomic_write_files
from resnetlab.models.hub.diagnose import COUNTER, compare, guess_architecture
from resnetlab.models.hub.fetch import fetch, is_url
from resnetlab.models.hub.format import (
    FORMAT,
    META,
    REQUIRED_META,
    WEIGHTS,
    is_saved_model,
    locate,
    model_spec,
)
from resnetlab.models.hub.preset import imagenet_meta
from resnetlab.models.hub.statedict import map_keys, read_file
from resnetlab.models.hub.zoo import is_tag, known_weights

WeightsSource = str | Path | Mapping[str, torch.Tensor]


@dataclass
class LoadReport:
    """What :func:`load_weights` did: the source and the keys it could not use (non-strict)."""

    source: str
    loaded: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    fresh_head: bool = False  # new_head=True and the file's classifier did not fit


def resolve(source: str | Path, model_name: str | None = None,
            sha256: str | None = None) -> Path:
    """A local weights file for a path, a saved model (run directory, model.json), a URL
    (downloaded and hash-checked) or a published tag."""
    text = str(source)
    if is_tag(text) and not Path(text).exists():
        if model_name is None:
            raise ConfigError(f"weights {text!r} name published weights; say for which model "
                              "(--model NAME)")
        text = known_weights(model_name, text).url
    if is_url(text):
        return fetch(text, sha256)
    if is_saved_model(text):  # a run directory or model.json: its model.safetensors
        return locate(text)[0]
    return Path(text).expanduser()


def read_weights(source: WeightsSource, model_name: str | None = None,
                 sha256: str | None = None) -> dict[str, torch.Tensor]:
    """The tensors of ``source`` with foreign names mapped to resnetlab's (see statedict)."""
    if isinstance(source, Mapping):
        return map_keys(source)
    return map_keys(read_file(resolve(source, model_name, sha256)))


def _fix_hint(model: nn.Module, state: Mapping[str, torch.Tensor], mismatch) -> str:
    name = getattr(model, "variant_name", None) or type(model).__name__
    if mismatch.only_classifier():
        n = int(state["fc.weight"].shape[0]) if "fc.weight" in state else "?"
        return (f"the file's classifier has {n} classes: build the model for {n} classes, or "
                "keep a fresh classifier (--weights does; new_head=True in Python)")
    guesses = [g for g in guess_architecture(state) if g != name]
    if guesses:
        return f"these weights fit {' or '.join(guesses[:3])}: pass that model (--model NAME)"
    return f"pass the model these weights were made for instead of {name}"


def load_weights(model: nn.Module, source: WeightsSource, *, strict: bool = True,
                 new_head: bool = False, sha256: str | None = None,
                 label: str | None = None) -> LoadReport:
    """Load ``source`` into ``model`` in place; returns a :class:`LoadReport`.

    ``source`` is a path (``.pth``/``.pt``/``.bin``/``.safetensors``), an ``http(s)://`` URL
    (cached, SHA-256 checked against the published hash or ``sha256``), a published tag such as
    ``"IMAGENET1K_V1"`` (for the model's registered name), or a state_dict. With ``strict`` any
    difference raises :class:`CheckpointError`; otherwise keys that do not fit are skipped.
    ``new_head`` exempts the classifier (``fc``): a file classifier of another shape, or none,
    leaves the model's own in place and sets :attr:`LoadReport.fresh_head`. ``label`` names the
    source in messages (default: the path, URL or tag; ``"state_dict"`` for tensors).
    """
    state = file_state = read_weights(source, getattr(model, "variant_name", None), sha256)
    if label is None:
        label = "state_dict" if isinstance(source, Mapping) else str(source)
    own = model.state_dict()
    head = [k for k in own if k.startswith("fc.")]
    fresh_head = new_head and any(k not in state or state[k].shape != own[k].shape for k in head)
    if fresh_head:  # the model keeps its own classifier; everything else is checked as usual
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        state.update((k, own[k]) for k in head)
    # A feature extractor keeps only the backbone: the file's head and unused stages are fine.
    dropped = tuple(f"{m}." for m in getattr(model, "dropped_modules", ()))
    if dropped:
        state = {k: v for k, v in state.items() if not k.startswith(dropped)}
    mismatch = compare(state, own)
    mismatch.unexpected = [k for k in mismatch.unexpected if not k.endswith(COUNTER)]
    if mismatch and strict:
        more = f" (and {mismatch.count - 1} more differences)" if mismatch.count > 1 else ""
        name = getattr(model, "variant_name", None) or type(model).__name__
        raise CheckpointError(f"weights {label} do not fit {name}: {mismatch.first(list(own))}"
                              f"{more}; {_fix_hint(model, file_state, mismatch)}")
    usable = {k: v for k, v in state.items() if k in own and k not in mismatch.shapes}
    _refuse_non_finite(usable, label)
    model.load_state_dict(usable, strict=False)
    return LoadReport(label, len(usable), mismatch.missing, mismatch.unexpected,
                      list(mismatch.shapes), fresh_head)


def _refuse_non_finite(state: Mapping[str, torch.Tensor], label: str) -> None:
    """NaN/inf weights (a diverged run's export) load silently and then predict NaN for every
    image; refuse them where they enter, naming the first bad tensor."""
    for key, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"weights {label} hold NaN or infinite values in {key} (the "
                                  "run that made them diverged?); use an earlier checkpoint or "
                                  "retrain with a lower learning rate")


def _default_meta(model: nn.Module) -> dict[str, Any]:
    spec = model_spec(model)
    config = getattr(model, "config", None)
    num_classes = getattr(model, "num_classes", None)
    in_chans = getattr(config, "in_chans", None)
    meta: dict[str, Any] = {"model": spec["name"], "model_kwargs": spec["kwargs"]}
    if num_classes is not None:
        meta["num_classes"] = int(num_classes)
    if in_chans is not None:
        meta["in_chans"] = int(in_chans)
    if num_classes == 1000 and in_chans == 3 and spec["name"]:
        # An ImageNet-sized head: ship the ImageNet labels and preprocessing unless told not to.
        preset = imagenet_meta(spec["name"])
        meta.update({k: preset[k] for k in ("classes", "mean", "std", "input_size",
                                            "resize_size")})
    return meta


def save_weights(model: nn.Module, path: str | Path,
                 meta: Mapping[str, Any] | None = None) -> tuple[Path, Path]:
    """Write ``model``'s weights as safetensors and ``model.json`` beside them.

    ``path`` is a ``.safetensors`` file or a directory (``<dir>/model.safetensors``). ``meta``
    adds to (and overrides) what the model tells: name, options, classes. The result loads with
    :func:`resnetlab.load_model` and every command that takes a model; a model without class
    names, mean/std or input size raises :class:`ConfigError` naming them.
    """
    path = Path(path)
    weights = path if path.suffix == ".safetensors" else path / WEIGHTS
    full = {**_default_meta(model), **dict(meta or {})}
    missing = [k for k in REQUIRED_META if full.get(k) is None]
    if missing:
        raise ConfigError(f"cannot save {weights}: meta lacks {', '.join(missing)}; pass them "
                          "in meta (e.g. classes=[...], mean=[...], std=[...], "
                          "input_size=[3, 224, 224])")
    weights.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    data = save(tensors, metadata={"format": FORMAT})
    meta_path = weights.with_name(META)
    text = json.dumps({"format": FORMAT, **full}, indent=2) + "\n"
    # Both written before either is renamed: a full disk leaves the previous pair (or none),
    # never a new model.safetensors beside an old model.json; raises DiskError (one line).
    atomic_write_files({weights: lambda fh: fh.write(data),
                        meta_path: lambda fh: fh.write(text.encode())})
    return weights, meta_path
