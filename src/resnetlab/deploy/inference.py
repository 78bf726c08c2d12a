"""One loader for every kind of weights a user can point at, ready for inference.

``load_for_inference`` takes a run directory (or its ``model.safetensors``/``model.json``), a
safetensors file with ``model.json`` beside it, or raw weights (a torchvision/timm ``.pth``,
a bare ``.safetensors``, a URL, a published tag like ``IMAGENET1K_V1``). Raw weights carry no
metadata, so the architecture comes from ``model_name`` (or is recognised from the tensors when
only one registered model fits), the class count from the classifier's shape, and a 1000-class
model gets the ImageNet labels and preprocessing preset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnetlab.deploy.diagnose import guess_architecture
from resnetlab.deploy.fetch import is_url
from resnetlab.deploy.preset import IMAGENET_MEAN, IMAGENET_RESIZE, IMAGENET_STD, imagenet_meta
from resnetlab.deploy.weights import apply_state, read_weights
from resnetlab.deploy.zoo import by_url, is_tag, known_weights
from resnetlab.errors import CheckpointError, ConfigError


def is_run_artifact(source: str | Path) -> bool:
    """True for a run directory, a ``model.json``, or a .safetensors with model.json beside it."""
    if isinstance(source, str) and (is_url(source) or is_tag(source)):
        return False
    p = Path(source).expanduser()
    return p.is_dir() or p.name == "model.json" or (
        p.suffix == ".safetensors" and p.is_file() and p.with_name("model.json").is_file())


def _resize_for(source: str, model_name: str) -> int:
    """Evaluation resize of published weights (232 for torchvision's V2), else the preset's."""
    known = by_url(source) or (known_weights(model_name, source) if is_tag(source) else None)
    return known.resize_size if known is not None else IMAGENET_RESIZE


def _pick_model(state: dict[str, torch.Tensor], source: str) -> str:
    found = guess_architecture(state)
    if len(found) == 1:
        return found[0]
    if found:
        raise ConfigError(f"weights {source} fit several models ({', '.join(found)}); "
                          "choose one with --model NAME")
    raise CheckpointError(f"weights {source} fit no registered model; pass the architecture "
                          "with --model NAME (see 'resnetlab models')")


def _raw_meta(model: nn.Module, name: str, source: str) -> dict[str, Any]:
    num_classes = int(model.num_classes)
    in_chans = int(model.config.in_chans)
    if num_classes == 1000 and in_chans == 3:
        return imagenet_meta(name, _resize_for(source, name), source=source)
    # Unknown labels and statistics: name classes by index and assume ImageNet-style inputs.
    side = 224 if model.config.stem in ("imagenet", "deep") else 32
    mean = list(IMAGENET_MEAN) if in_chans == 3 else [0.5] * in_chans
    std = list(IMAGENET_STD) if in_chans == 3 else [0.5] * in_chans
    return {"model": name, "model_kwargs": {}, "num_classes": num_classes, "in_chans": in_chans,
            "input_size": [in_chans, side, side], "classes": [str(i) for i in range(num_classes)],
            "mean": mean, "std": std, "source": source}


def load_for_inference(source: str | Path, model_name: str | None = None, *,
                       device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """``(model, meta)``: the model in eval mode on ``device`` and its ``model.json``-style meta.

    ``meta`` always has ``model``, ``num_classes``, ``input_size``, ``classes``, ``mean`` and
    ``std``, and ``resize_size`` when the ImageNet preset applies; feed images through
    :func:`resnetlab.deploy.images.preprocess` with it.
    """
    from resnetlab.models import create_model

    if is_run_artifact(source):
        from resnetlab.train.artifacts import load_trained

        model, meta = load_trained(source, device=device)
        if model_name is not None and model_name != meta.get("model"):
            raise ConfigError(f"{source} holds a {meta.get('model')} but --model says "
                              f"{model_name}; drop --model for a run directory")
        return model, meta
    text = str(source)
    state = read_weights(text, model_name)
    name = model_name or _pick_model(state, text)
    kwargs: dict[str, Any] = {}
    if "fc.weight" in state:
        kwargs["num_classes"] = int(state["fc.weight"].shape[0])
    stem = state.get("conv1.weight", state.get("conv1.0.weight"))
    if stem is not None and stem.dim() == 4:
        kwargs["in_chans"] = int(stem.shape[1])
    model = create_model(name, **kwargs)
    apply_state(model, state, source=text)
    return model.to(device).eval(), _raw_meta(model, name, text)
