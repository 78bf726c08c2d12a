"""Experiment ``gradcam``: where does a trained ResNet look when it decides?

Grad-CAM (Selvaraju et al. 2017) of the top class at the last stage, over a few test images.
Without ``--weights`` a small ResNet-20 is first trained on the embedded digits through
:func:`resnetlab.train.train` (a few steps with ``--quick``), so the map always explains a
trained model: the map of a random network says nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from resnetlab.analysis.gradcam import grad_cam, overlay
from resnetlab.analysis.render import OVERLAY_SIDE, image_for_display, overlay_png
from resnetlab.data import load
from resnetlab.i18n import _, ngettext
from resnetlab.lab.common import LabResult
from resnetlab.lab.inputs import data_for, load_lab_model, sample_input
from resnetlab.lab.plotting import new_figure, save, show_image
from resnetlab.train import train

FIGURE = "gradcam.png"
OVERLAY = "gradcam_overlay.png"


def _train_here(out_dir: Path, model: str, quick: bool, steps: int | None, seed: int,
                device: str | None) -> tuple[Path, str]:
    """Train ``model`` on digits with the he2016 recipe; returns the run dir and a note."""
    size = 16 if quick else 32
    steps = steps or (30 if quick else 300)
    message = _("no --weights: training {model} on digits ({size}x{size}) for {steps} steps "
                "first").format(model=model, size=size, steps=steps)
    print(f"[lab gradcam] {message}", file=sys.stderr, flush=True)
    bundle = load("digits", image_size=size)
    run = train(model, bundle, "he2016", out_dir / "model", seed=seed, device=device,
                overrides={"iterations": steps, "val_size": 0, "batch_size": 64, "pad": 1,
                           "flip": False},
                quiet=True, overwrite=True, checkpoint_seconds=0)
    note = _("no --weights given: trained {model} on digits for {steps} steps first (test "
             "accuracy {accuracy} %)").format(model=model, steps=steps,
                                               accuracy=f"{100 * run.metrics['test_top1']:.1f}")
    return run.run_dir, note


def run(out_dir: Path, quick: bool = False, *, weights: str | None = None,
        model: str | None = None, image: str | None = None, data: str | None = None,
        data_dir: str | None = None, index: int = 0, count: int = 4, layer: str | None = None,
        steps: int | None = None, seed: int = 0, device: str | None = None) -> LabResult:
    """Grad-CAM of the top class for ``count`` test images (or one ``--image``).

    The model: ``weights``, else the newest finished run under ``./runs`` that fits
    ``model``/``data`` (:mod:`resnetlab.lab.runs`), else one trained here on digits first.
    """
    lab_model = load_lab_model(model, weights, default="resnet20", data=data)
    note, trained_here = lab_model.note, False
    if not lab_model.trained:
        weights, note = _train_here(out_dir, model or "resnet20", quick, steps, seed, device)
        lab_model = load_lab_model(None, weights, default="resnet20")  # the run names its net
        trained_here = True
    lab_data = data_for(lab_model, image, data, data_dir, quick)
    count = 1 if image is not None else max(1, min(count, len(lab_data.bundle.test) - index))
    classes = lab_model.meta.get("classes") or []
    samples, cams = [], []
    for i in range(count):
        sample = sample_input(lab_model, image, lab_data, index + i)
        samples.append(sample)
        cams.append(grad_cam(lab_model.model, sample.x, layer))

    fig = new_figure(figsize=(2.6 * count + 0.6, 5.8), layout="constrained")
    axes = fig.subplots(2, count, squeeze=False)
    rows = []
    for col, (sample, cam) in enumerate(zip(samples, cams, strict=True)):
        predicted = classes[cam.class_index] if cam.class_index < len(classes) else str(
            cam.class_index)
        truth = sample.label if sample.label is not None else "?"
        show_image(axes[0, col], sample.pixels, _("true: {truth}\npredicted: {predicted} "
                                                  "({percent} %)").format(
            truth=truth, predicted=predicted, percent=f"{100 * cam.probability:.0f}"))
        blended = overlay(image_for_display(sample.pixels), cam.cam)
        axes[1, col].imshow(blended, interpolation="bilinear")
        axes[1, col].set_xticks([])
        axes[1, col].set_yticks([])
        rows.append({"image": sample.source, "label": sample.label, "predicted": predicted,
                     "class_index": cam.class_index, "probability": cam.probability,
                     "correct": sample.label == predicted if sample.label else None})
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable

    bar = fig.colorbar(ScalarMappable(cmap=colormaps["jet"]), ax=axes[1, :], shrink=0.9)
    bar.set_label(_("Grad-CAM (scaled to its maximum)"), fontsize=9)
    axes[0, 0].set_ylabel(_("input"), fontsize=10)
    axes[1, 0].set_ylabel(_("Grad-CAM of the\npredicted class"), fontsize=10)
    layer_text = f"{cams[0].layer} ({'×'.join(map(str, cams[0].layer_shape))})"
    fig.suptitle(_("Grad-CAM of {model} ({state}) at {layer}: red = regions that raise the "
                   "predicted class score").format(model=lab_model.name, state=lab_model.state,
                                                   layer=layer_text), fontsize=10)
    figure = save(fig, out_dir / FIGURE)
    (out_dir / OVERLAY).write_bytes(overlay_png(samples[0].pixels, cams[0].cam, OVERLAY_SIDE))

    correct = [r["correct"] for r in rows if r["correct"] is not None]
    results = {
        "model": lab_model.name, "weights": lab_model.source, "trained_here": trained_here,
        "found_run": lab_model.found,
        "layer": cams[0].layer, "layer_shape": list(cams[0].layer_shape),
        "images": rows,
    }
    head = ngettext("Grad-CAM of {model} at {layer} for {count} image",
                    "Grad-CAM of {model} at {layer} for {count} images", count).format(
                        model=lab_model.name, layer=layer_text, count=count)
    if correct:
        head += _(": {right}/{total} predicted correctly").format(right=sum(correct),
                                                                 total=len(correct))
    verdict = [head, _("the heatmap is coarse by design: one cell per position of the last "
                       "stage, upsampled to the input")]
    verdict += [n for n in (note, lab_data and lab_data.note) if n]
    return LabResult("gradcam", results, [figure, out_dir / OVERLAY], verdict)
