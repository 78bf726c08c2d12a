"""The explanation endpoints: Grad-CAM, feature maps and one block's anatomy for an upload.

Each feeds the image as ``resnetlab predict`` would (:func:`resnetlab.deploy.images.fit_to_input`
then the model's normalization), calls the analysis (:mod:`resnetlab.analysis.gradcam`,
:mod:`~resnetlab.analysis.features`, :mod:`~resnetlab.analysis.residual`) and draws with
:mod:`resnetlab.analysis.render`, the lab's own pictures. They run in a worker thread under the
model's lock: each hooks into the model's modules.
"""

from __future__ import annotations

import base64
from typing import Any

import torch

from resnetlab.analysis.features import feature_maps
from resnetlab.analysis.gradcam import grad_cam
from resnetlab.analysis.render import channel_grid, figure_png, overlay_png, plot_anatomy, png_bytes
from resnetlab.analysis.residual import block_input, block_names, dissect_block, get_block
from resnetlab.data import normalize
from resnetlab.deploy.images import fit_to_input
from resnetlab.i18n import gettext
from resnetlab.serve.errors import ApiError
from resnetlab.serve.registry import ServedModel

FEATURE_CHANNELS = 16  # channels shown per stage
ANATOMY_CHANNELS = 4


def data_url(png: bytes) -> str:
    """``data:image/png;base64,...`` for an ``<img src>``."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def model_input(served: ServedModel, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pixels, x)``: the uint8 image at the model's input size, and the normalized batch."""
    pixels = fit_to_input([image], served.meta)
    x = normalize(pixels, served.meta["mean"], served.meta["std"]).to(served.where.device)
    return pixels[0], x


def gradcam(served: ServedModel, image: torch.Tensor, class_index: int | None) -> dict[str, Any]:
    """Grad-CAM of ``class_index`` (default: the top class) at the last stage."""
    classes = served.classes
    if class_index is not None and not 0 <= class_index < len(classes):
        raise ApiError(422, f"class_index {class_index} is outside 0..{len(classes) - 1}; pass "
                       "one of the model's classes")
    pixels, x = model_input(served, image)
    with served.lock:
        cam = grad_cam(served.model, x, class_index=class_index)
    return {"class_index": cam.class_index, "label": classes[cam.class_index],
            "probability": cam.probability,
            "overlay": data_url(overlay_png(pixels, cam.cam.cpu()))}


def features(served: ServedModel, image: torch.Tensor) -> dict[str, Any]:
    """A grid of the first channels of the stem's and each stage's output."""
    _, x = model_input(served, image)
    with served.lock:
        maps = feature_maps(served.model, x)
    return {"stages": [{"name": m.name, "channels": int(m.shape[0]),
                        "size": [int(m.shape[1]), int(m.shape[2])],
                        "image": data_url(png_bytes(channel_grid(m.tensor, FEATURE_CHANNELS)))}
                       for m in maps]}


def residual(served: ServedModel, image: torch.Tensor, block: str | None,
             lang: str = "en") -> dict[str, Any]:
    """x, F(x), S(x), F+S and the output of one residual block, and the ``forward`` check;
    the figure's text is in ``lang`` (the page's language, passed per request: threads of one
    server answer pages in different languages)."""
    names = block_names(served.model)
    block = block or (names[0] if names else "")
    if block not in names:
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        raise ApiError(404, f"no residual block {block!r} in {served.id}; pass ?block= one of "
                       f"{shown} (last: {names[-1] if names else 'none'})")
    _, x = model_input(served, image)
    with served.lock:
        target = get_block(served.model, block)
        anatomy = dissect_block(target, block_input(served.model, target, x))
    f_norm = float(anatomy.residual.norm())
    s_norm = float(anatomy.shortcut.norm()) if anatomy.shortcut is not None else 0.0
    state = (gettext("trained", lang=lang) if served.trained
             else gettext("random init", lang=lang))
    title = gettext("{model} ({state}) block {block}: {kind}", lang=lang).format(
        model=served.name, state=state, block=block, kind=type(target).__name__)
    figure = plot_anatomy(anatomy, ANATOMY_CHANNELS, title, lang=lang)
    return {"block": block, "max_abs_diff": anatomy.max_abs_diff, "allclose": anatomy.allclose,
            "norm_ratio_f_s": f_norm / s_norm if s_norm else None,
            "image": data_url(figure_png(figure))}
