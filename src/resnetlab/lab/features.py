"""Experiment ``features``: an image through the stem and every stage of a ResNet.

The classic "ResNet-18 and its feature maps" figure: one row per stage, the first N channels
of each, titled with the tensor shape, so the trade of resolution for channels
(He et al. 2015, §3.3: "if the feature map size is halved, the number of filters is doubled")
is visible at a glance.
"""

from __future__ import annotations

from pathlib import Path

from resnetlab.analysis.features import feature_maps
from resnetlab.analysis.render import shape_text
from resnetlab.i18n import _, ngettext
from resnetlab.lab.common import LabResult
from resnetlab.lab.inputs import data_for, load_lab_model, sample_input
from resnetlab.lab.plotting import new_figure, save, show_image

FIGURE = "features.png"


def run(out_dir: Path, quick: bool = False, *, model: str | None = None,
        weights: str | None = None, image: str | None = None, data: str | None = None,
        data_dir: str | None = None, index: int = 0, channels: int = 8,
        untrained: bool = False) -> LabResult:
    """Plot the first ``channels`` feature maps of each stage for one image.

    Without ``weights`` the newest finished run under ``./runs`` that fits ``model``/``data``
    is shown (:mod:`resnetlab.lab.runs`), else (or with ``untrained``) a random network;
    ``data`` defaults to the data the model was trained on, else the embedded digits.
    """
    lab_model = load_lab_model(model, weights, default="resnet18", data=data,
                               untrained=untrained)
    lab_data = data_for(lab_model, image, data, data_dir, quick)
    sample = sample_input(lab_model, image, lab_data, index)
    maps = feature_maps(lab_model.model, sample.x)
    channels = max(1, channels)

    rows = len(maps) + 1
    fig = new_figure(figsize=(1.3 * channels + 0.4, 1.55 * rows + 0.6), layout="constrained")
    subfigs = fig.subfigures(rows, 1)
    state = lab_model.state
    fig.suptitle(ngettext("{model} ({state}) feature maps: first {count} channel per stage, "
                          "each scaled to its own range",
                          "{model} ({state}) feature maps: first {count} channels per stage, "
                          "each scaled to its own range", channels).format(
                              model=lab_model.name, state=state, count=channels), fontsize=11)
    head = subfigs[0]
    head.suptitle(_("input: {source}, resized to {shape}").format(
        source=sample.shown_as, shape=shape_text(sample.pixels)), fontsize=10)
    ax = head.subplots(1, 1)
    show_image(ax, sample.pixels)
    for sub, fmap in zip(subfigs[1:], maps, strict=True):
        sub.suptitle(_("{stage} output: {shape} (C×H×W)").format(
            stage=fmap.name, shape=shape_text(fmap.tensor)), fontsize=10)
        axes = sub.subplots(1, channels, squeeze=False)[0]
        activations = fmap.tensor[0].detach().cpu()
        for c, axc in enumerate(axes):
            axc.set_xticks([])
            axc.set_yticks([])
            if c < activations.shape[0]:
                axc.imshow(activations[c].numpy(), cmap="viridis", interpolation="nearest")
                axc.set_xlabel(_("ch {index}").format(index=c), fontsize=8)
            else:
                axc.axis("off")
    figure = save(fig, out_dir / FIGURE)

    stats = [m.stats() for m in maps]
    first, last = stats[0], stats[-1]
    chain = " -> ".join(f"{s['name']} {'x'.join(map(str, s['shape']))}" for s in stats)
    verdict = [
        _("{model} ({state}) on {source}: {stages}").format(
            model=lab_model.name, state=state, source=sample.shown_as, stages=chain),
        # The percent sign travels with the number: "% o" in a msgid reads as %-format to Babel.
        _("resolution {first_side} -> {last_side} px, channels {first_channels} -> "
          "{last_channels}; {percent} of the last stage's activations are exactly zero (ReLU)"
          ).format(first_side=first["shape"][1], last_side=last["shape"][1],
                   first_channels=first["shape"][0], last_channels=last["shape"][0],
                   percent=f"{100 * last['zero_fraction']:.0f} %"),
    ]
    verdict += [n for n in (lab_model.note, lab_data and lab_data.note) if n]
    results = {
        "model": lab_model.name, "trained": lab_model.trained,
        "weights": lab_model.source, "found_run": lab_model.found, "image": sample.source,
        "label": sample.label, "input_shape": list(sample.pixels.shape),
        "channels_shown": channels, "stages": stats,
    }
    return LabResult("features", results, [figure], verdict)
