"""The one model loader: any weights source → a model ready for inference and its metadata.

>>> model, meta = load_model("runs/r56")                         # a run directory
>>> model, meta = load_model("out/model.safetensors")             # + model.json beside it
>>> model, meta = load_model("resnet50-0676ba61.pth")             # torchvision/timm weights
>>> model, meta = load_model("IMAGENET1K_V2", "resnet50")          # published tag (cached)
>>> model, meta = untrained_model("resnet20")                     # random init, same meta

A saved model (run directory, ``model.json``, or ``.safetensors`` with ``model.json`` beside it)
carries its architecture, classes and preprocessing. Raw weights carry none of it: the
architecture comes from ``model_name`` (or is recognised from the tensors when exactly one
registered model fits), the class count from the classifier's shape, and a 1000-class model gets
the ImageNet labels and preprocessing preset (with the evaluation resize of its published
weights). Every command that takes a model, the lab and the server go through here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnetlab.errors import CheckpointError, ConfigError, ResnetlabError
from resnetlab.models.factory import create_model
from resnetlab.models.hub.diagnose import guess_architecture
from resnetlab.models.hub.format import is_saved_model, locate, read_meta
from resnetlab.models.hub.preset import IMAGENET_MEAN, IMAGENET_RESIZE, IMAGENET_STD, imagenet_meta
from resnetlab.models.hub.statedict import read_file
from resnetlab.models.hub.weights import load_weights, read_weights
from resnetlab.models.hub.zoo import by_url, is_tag, known_weights
from resnetlab.models.registry import resolve_config

# Far above any published ResNet (ResNet-1202 has 600 blocks): more is a damaged model.json
# that would spend hours building before the weights could disagree.
_MAX_BLOCKS = 2000


def _rebuild(meta: dict[str, Any], meta_path: object = "model.json",
             state: dict[str, torch.Tensor] | None = None) -> nn.Module:
    """The architecture ``model.json`` describes, with random weights (the field types were
    checked by :func:`read_meta`). With ``state`` (the weights it goes with), a description
    bigger than the weights is refused before anything is allocated."""
    kwargs = {str(k): v for k, v in (meta.get("model_kwargs") or {}).items()}
    kwargs["num_classes"] = int(meta["num_classes"])
    kwargs.setdefault("in_chans", int(meta["input_size"][0]))

    def damaged(why: str) -> CheckpointError:
        return CheckpointError(f"{meta_path}: model_kwargs do not build a {meta['model']} "
                               f"({why}); re-export the model")
    try:
        config = resolve_config(meta["model"], **kwargs)  # an unknown name: UnknownModelError
        if sum(config.layers) > _MAX_BLOCKS:
            raise damaged(f"{sum(config.layers):,} blocks")
        if state is not None:
            with torch.device("meta"):  # shapes only: no memory, no initialisation
                need = sum(t.numel() for t in create_model(meta["model"], **kwargs)
                           .state_dict().values())
            have = sum(t.numel() for t in state.values())
            if need > have:
                raise damaged(f"{need:,} weights described, {have:,} in the file")
        return create_model(meta["model"], **kwargs)
    except (TypeError, ValueError, OverflowError) as exc:  # option values of the wrong type
        if isinstance(exc, ResnetlabError):
            raise
        raise damaged(str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
                      ) from None


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


def _load_saved(source: str | Path, model_name: str | None) -> tuple[nn.Module, dict[str, Any]]:
    weights, meta_path = locate(source)
    meta = read_meta(meta_path)
    if model_name is not None and model_name != meta.get("model"):
        raise ConfigError(f"{source} holds a {meta.get('model')} but --model says {model_name}; "
                          "drop --model for a saved model")
    state = read_file(weights)
    model = _rebuild(meta, meta_path, state)
    load_weights(model, state, label=str(weights))
    return model, meta


def _load_raw(source: str | Path, model_name: str | None) -> tuple[nn.Module, dict[str, Any]]:
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
    load_weights(model, state, label=text)
    return model, _raw_meta(model, name, text)


def load_model(source: str | Path, model_name: str | None = None, *,
               device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """``(model, meta)``: the model in eval mode on ``device`` and its ``model.json``-style meta.

    ``source`` is a run directory, a ``model.json`` or ``.safetensors`` saved by resnetlab, a
    torchvision/timm ``.pth``, a bare ``.safetensors``, an ``http(s)://`` URL (cached, SHA-256
    checked) or a published tag such as ``"IMAGENET1K_V1"`` (with ``model_name``). ``meta``
    always has ``model``, ``num_classes``, ``input_size``, ``classes``, ``mean`` and ``std``
    (and ``resize_size`` when the ImageNet preset applies): feed images through
    :func:`resnetlab.deploy.images.preprocess` with it. Problems raise a one-line
    :class:`~resnetlab.errors.CheckpointError` or :class:`~resnetlab.errors.ConfigError`.
    """
    load = _load_saved if is_saved_model(source) else _load_raw
    model, meta = load(source, model_name)
    return model.to(device).eval(), meta


def untrained_model(name: str, *, seed: int = 0, device: str | torch.device = "cpu"
                    ) -> tuple[nn.Module, dict[str, Any]]:
    """``(model, meta)`` of registered architecture ``name`` with random weights, in eval mode.

    The weights are drawn from ``seed`` (without touching the global random state), so every
    process that opens ``untrained:resnet20`` holds the same model. ``meta`` is what raw weights
    of that architecture would get (see :func:`load_model`): the ImageNet preset for a
    1000-class model, classes named by index otherwise; its ``source`` is ``"untrained"``. An
    unknown name raises :class:`~resnetlab.errors.UnknownModelError`.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = create_model(name)
    return model.to(device).eval(), _raw_meta(model, name, "untrained")
