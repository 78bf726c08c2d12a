"""The model registry: names → architectures, model cards, and :func:`create_model`."""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, fields
from functools import cache

import torch

from resnetlab.errors import ConfigError, UnknownModelError
from resnetlab.models.resnet import ResNet, ResNetConfig
from resnetlab.models.variants import IMAGENET_LAYERS, Variant, all_variants

_VARIANTS: dict[str, Variant] = {v.name: v for v in all_variants()}
_CONFIG_FIELDS = {f.name for f in fields(ResNetConfig)} - {"extra"}


@dataclass(frozen=True)
class ModelCard:
    """What a user wants to know about a name before building it."""

    name: str
    description: str
    family: str
    params: int
    macs: int
    input_size: tuple[int, int, int]
    num_classes: int
    paper: str
    reported: str

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching a shell-style ``pattern`` (``"resnet*"``), in registry order."""
    return [n for n in _VARIANTS if fnmatch.fnmatchcase(n, pattern)]


def _suggest(name: str) -> list[str]:
    scored = sorted(((difflib.SequenceMatcher(None, name, n).ratio(), n) for n in _VARIANTS),
                    reverse=True)
    best = scored[0][0]
    return sorted(n for r, n in scored[:3] if r >= 0.6 and r >= best - 0.05)


def _variant(name: str) -> Variant:
    if name not in _VARIANTS:
        hint = _suggest(name)
        fix = f"did you mean: {', '.join(hint)}?" if hint else "see 'resnetlab models'"
        raise UnknownModelError(f"unknown model {name!r}; {fix}")
    return _VARIANTS[name]


def _depth_layers(variant: Variant, depth: int) -> dict:
    """Stage sizes for a ``depth=`` override, following the family's depth rule."""
    cfg = variant.config
    if variant.family == "imagenet":
        if depth not in IMAGENET_LAYERS or cfg.groups != 1 or cfg.base_width != 64:
            raise ConfigError(f"depth={depth} is not available for {variant.name}; "
                              f"ImageNet ResNets have depth 18, 34, 50, 101 or 152")
        block, layers = IMAGENET_LAYERS[depth]
        return {"block": block, "layers": layers}
    per_block = 3 if cfg.block.endswith("bottleneck") else 2
    stem_and_head = 4 if variant.family == "wrn" else 2
    n, rest = divmod(depth - stem_and_head, per_block * len(cfg.layers))
    if n < 1 or rest:
        rule = f"{per_block * len(cfg.layers)}n+{stem_and_head}"
        raise ConfigError(f"depth={depth} does not fit {variant.name}'s rule depth = {rule} "
                          f"(n >= 1); pick e.g. {per_block * len(cfg.layers) * 3 + stem_and_head}")
    return {"layers": (n,) * len(cfg.layers)}


def resolve_config(name: str, **overrides) -> ResNetConfig:
    """The :class:`ResNetConfig` for ``name`` with overrides (``depth`` and any config field)."""
    variant = _variant(name)
    changes = {}
    depth = overrides.pop("depth", None)
    if depth is not None:
        changes.update(_depth_layers(variant, int(depth)))
    unknown = set(overrides) - _CONFIG_FIELDS
    if unknown:
        raise ConfigError(f"unknown model option(s) {', '.join(sorted(unknown))}; "
                          f"valid: depth, {', '.join(sorted(_CONFIG_FIELDS))}")
    changes.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("layers", "widths"):
        if key in changes:
            changes[key] = tuple(changes[key])
    config = variant.config.with_overrides(**changes)
    try:
        return config.validate()
    except ValueError as exc:
        raise ConfigError(f"bad option for {name}: {exc}") from None


def create_model(name: str, num_classes: int | None = None, *, weights=None,
                 features_only: bool = False, out_indices=None, strict: bool = True,
                 **overrides) -> ResNet:
    """Build a registered model, e.g. ``create_model("resnet56", num_classes=100)``.

    ``overrides`` are :class:`ResNetConfig` fields (``shortcut="B"``, ``in_chans=1``,
    ``zero_init_residual=True``, ``dropout=0.3``…) or ``depth`` (``depth=110`` on a CIFAR net).
    ``weights`` is a path (torchvision ``.pth``, timm, resnetlab ``.safetensors``), an
    ``http(s)://`` URL (cached, SHA-256 checked) or a published tag such as ``"IMAGENET1K_V1"``;
    it loads strictly unless ``strict=False`` (then a differently-sized classifier stays fresh).
    ``features_only=True`` returns a :class:`~resnetlab.models.features.FeatureExtractor` of the
    stage outputs at ``out_indices`` (timm's convention, with ``feature_info``).
    Unknown names raise :class:`UnknownModelError`, bad values :class:`ConfigError`,
    unusable weights :class:`CheckpointError`.
    """
    config = resolve_config(name, num_classes=num_classes, **overrides)
    model = ResNet(config)
    model.variant_name = name
    if features_only:
        from resnetlab.models.features import FeatureExtractor

        model = FeatureExtractor(model, out_indices)
    elif out_indices is not None:
        raise ConfigError("out_indices needs features_only=True")
    if weights is not None:
        from resnetlab.deploy.weights import load_weights

        load_weights(model, weights, strict=strict)
    return model


@cache
def _card_figures(name: str) -> tuple[int, int]:
    """Exact params and MACs, measured on a shortened twin of the model.

    Blocks after the first of a stage are identical, so a twin with at most two blocks per stage
    gives every figure: the second block's share is multiplied by the blocks left out. This keeps
    ``resnetlab models`` fast (ResNet-1202 alone takes seconds to build in full).
    """
    from resnetlab.analysis.summary import summary

    variant = _VARIANTS[name]
    short = variant.config.with_overrides(layers=tuple(min(n, 2) for n in variant.config.layers))
    with torch.device("meta"):  # shapes only: no memory, no init cost
        model = ResNet(short)
    table = summary(model, (1, *variant.input_size), device="meta")
    params, macs = table.total_params, table.total_macs
    for stage, n in zip(model.stage_names, variant.config.layers, strict=True):
        if n > 2:
            prefix = f"{stage}.1."
            block = getattr(model, stage)[1]
            params += (n - 2) * sum(p.numel() for p in block.parameters())
            macs += (n - 2) * sum(r.macs for r in table.rows if r.name.startswith(prefix))
    return params, macs


def get_card(name: str) -> ModelCard:
    """The model card of ``name``: exact params, MACs at the default input size, sources."""
    variant = _variant(name)
    params, macs = _card_figures(name)
    return ModelCard(variant.name, variant.description, variant.family, params, macs,
                     variant.input_size, variant.config.num_classes, variant.paper,
                     variant.reported)
