"""Backbone features: a ResNet's stage outputs (C1…C5) for detection, segmentation and retrieval.

``FeatureExtractor(model, out_indices)`` returns a list of feature maps, one per index. Index 0
is the stem (after its ReLU, *before* the max-pool, as in timm), index ``i >= 1`` the output of
stage ``i`` (``layer{i}``). For an ImageNet ResNet-50 the five maps have 64, 256, 512, 1024 and
2048 channels at strides 2, 4, 8, 16 and 32. The last stage of a pre-activation net includes its
final BN-ReLU (as ``forward_features`` does), because the raw sum is not normalised.

``feature_info`` follows timm's convention (a list of dicts with ``num_chs``, ``reduction`` and
``module``, plus ``channels()``/``reduction()``/``module_name()``), so code written for
``timm.create_model(..., features_only=True)`` works unchanged. Sub-module names are those of the
wrapped ResNet (without ``fc``), so a classifier checkpoint loads into the extractor.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from resnetlab.errors import ConfigError
from resnetlab.models.resnet import ResNet


class FeatureInfo(list):
    """One dict per returned feature map: ``num_chs``, ``reduction``, ``module``, ``index``."""

    def channels(self, idx: int | None = None) -> list[int] | int:
        """Channels of every map (or of the ``idx``-th returned one)."""
        return self._get("num_chs", idx)

    def reduction(self, idx: int | None = None) -> list[int] | int:
        """Input-to-map stride of every map (or of the ``idx``-th returned one)."""
        return self._get("reduction", idx)

    def module_name(self, idx: int | None = None) -> list[str] | str:
        """Name of the module that produces every map (or the ``idx``-th returned one)."""
        return self._get("module", idx)

    def _get(self, key: str, idx: int | None):
        return [d[key] for d in self] if idx is None else self[idx][key]


def _stem_stride(model: ResNet) -> int:
    conv = model.conv1[0] if isinstance(model.conv1, nn.Sequential) else model.conv1
    return int(conv.stride[0])


def all_feature_info(model: ResNet) -> FeatureInfo:
    """Info for every index a ``model`` offers: the stem, then each stage."""
    stem_module = "relu" if hasattr(model, "bn1") else "conv1"
    reduction = _stem_stride(model)
    info = FeatureInfo([{"num_chs": model.config.stem_width, "reduction": reduction,
                         "module": stem_module, "index": 0}])
    if hasattr(model, "maxpool"):
        reduction *= 2
    last = len(model.stage_names)
    for i, (name, chs) in enumerate(zip(model.stage_names, model.stage_channels, strict=True)):
        if i > 0:  # every stage after the first halves the resolution (ResNet construction)
            reduction *= 2
        module = "final_relu" if i + 1 == last and hasattr(model, "final_bn") else name
        info.append({"num_chs": chs, "reduction": reduction, "module": module, "index": i + 1})
    return info


def resolve_out_indices(out_indices: Sequence[int] | None, num_indices: int,
                        name: str = "model") -> tuple[int, ...]:
    """Sorted, de-duplicated indices in ``0..num_indices-1``; negatives count from the end."""
    if out_indices is None:  # timm's default: the stem and every stage
        return tuple(range(num_indices))
    resolved = []
    for i in out_indices:
        j = int(i) + num_indices if int(i) < 0 else int(i)
        if not 0 <= j < num_indices:
            raise ConfigError(
                f"out_indices {tuple(out_indices)} does not fit {name}: it has feature indices "
                f"0 (stem) to {num_indices - 1}; pick indices in that range"
            )
        resolved.append(j)
    if not resolved:
        raise ConfigError("out_indices is empty; pass at least one index, e.g. (1, 2, 3, 4)")
    return tuple(sorted(set(resolved)))


class FeatureExtractor(nn.Module):
    """A ResNet that returns the feature maps at ``out_indices`` instead of logits.

    Only the modules needed up to the deepest requested index are kept (no ``avgpool``/``fc``),
    so the extractor costs no more than the features it returns. ``dropped_modules`` lists the
    ResNet's top-level names that were left out, so a full classifier checkpoint can be loaded.
    """

    def __init__(self, model: ResNet, out_indices: Sequence[int] | None = None) -> None:
        super().__init__()
        if not isinstance(model, ResNet):
            raise ConfigError(f"features_only needs a resnetlab ResNet, got {type(model).__name__}")
        everything = all_feature_info(model)
        name = getattr(model, "variant_name", "model")
        self.out_indices = resolve_out_indices(out_indices, len(everything), name)
        self.feature_info = FeatureInfo(everything[i] for i in self.out_indices)
        self.config = model.config
        self.variant_name = getattr(model, "variant_name", None)
        deepest = self.out_indices[-1]
        self.stage_names = list(model.stage_names[:deepest])
        keep = ["conv1", "bn1", "relu", "maxpool", *self.stage_names]
        if deepest == len(model.stage_names):
            keep += ["final_bn", "final_relu"]
        for child_name, child in model.named_children():
            if child_name in keep:
                self.add_module(child_name, child)
        self.dropped_modules = tuple(n for n, _ in model.named_children() if n not in keep)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        wanted = set(self.out_indices)
        x = self.conv1(x)
        if hasattr(self, "bn1"):
            x = self.relu(self.bn1(x))
        out = [x] if 0 in wanted else []
        if hasattr(self, "maxpool"):
            x = self.maxpool(x)
        for i, name in enumerate(self.stage_names, start=1):
            x = getattr(self, name)(x)
            if i in wanted:
                if hasattr(self, "final_bn") and i == len(self.stage_names):
                    x = self.final_relu(self.final_bn(x))
                out.append(x)
        return out
