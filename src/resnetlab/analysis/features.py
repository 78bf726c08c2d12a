"""Feature maps of one input through a ResNet: the stem's output, then each stage's."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from resnetlab.errors import ConfigError


@dataclass
class FeatureMap:
    """One named activation (``1 × C × H × W``) with summary statistics."""

    name: str
    tensor: torch.Tensor

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.tensor.shape[1:])

    def stats(self) -> dict:
        """Shape, mean, std and the fraction of exact zeros (ReLU sparsity)."""
        t = self.tensor.detach().float()
        return {"name": self.name, "shape": list(self.shape), "mean": float(t.mean()),
                "std": float(t.std()), "zero_fraction": float((t == 0).float().mean())}


@torch.no_grad()
def feature_maps(model: nn.Module, x: torch.Tensor) -> list[FeatureMap]:
    """``stem``, ``layer1`` … ``layerN`` outputs for ``x`` (model in its current mode).

    Works for any model with ResNet's ``stage_outputs``/``stage_names`` (every resnetlab model).
    """
    if not hasattr(model, "stage_outputs") or not hasattr(model, "stage_names"):
        raise ConfigError(f"{type(model).__name__} has no stages to show; use a resnetlab model "
                          "(see 'resnetlab models')")
    outs = model.stage_outputs(x)
    names = ["stem", *model.stage_names]
    return [FeatureMap(n, o) for n, o in zip(names, outs, strict=True)]

