"""The model registry: names → variants → :class:`ResNetConfig` (torch-free, see config.py).

:func:`resnetlab.models.factory.create_model` builds from it; model cards are precomputed data
(:mod:`resnetlab.models.cards`), measured by :mod:`resnetlab.analysis.cards`.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import fields

from resnetlab.errors import ConfigError, UnknownModelError
from resnetlab.models.config import ResNetConfig
from resnetlab.models.variants import IMAGENET_LAYERS, Variant, all_variants

_VARIANTS: dict[str, Variant] = {v.name: v for v in all_variants()}
_CONFIG_FIELDS = {f.name for f in fields(ResNetConfig)} - {"extra"}


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching a shell-style ``pattern`` (``"resnet*"``), in registry order."""
    return [n for n in _VARIANTS if fnmatch.fnmatchcase(n, pattern)]


def _suggest(name: str) -> list[str]:
    scored = sorted(((difflib.SequenceMatcher(None, name, n).ratio(), n) for n in _VARIANTS),
                    reverse=True)
    best = scored[0][0]
    return sorted(n for r, n in scored[:3] if r >= 0.6 and r >= best - 0.05)


def get_variant(name: str) -> Variant:
    """The registered :class:`Variant` ``name``; unknown names get a did-you-mean."""
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
    variant = get_variant(name)
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
