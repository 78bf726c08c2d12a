"""The shortcut connections of "Deep Residual Learning" (He et al. 2015, §3.3 and §4.1).

A block's shortcut S(x) carries x to the sum F(x) + S(x). When F changes the shape (stride or
channels), S must change it too. The paper compares three ways:

- ``"A"`` (zero-pad): parameter-free, subsample by the stride and pad the new channels with
  zeros; used for the CIFAR ResNets (§4.2) so a plain net and its ResNet have equal params.
- ``"B"`` (projection where needed): a 1×1 conv + BN only where the shape changes, identity
  elsewhere; torchvision's ImageNet layout.
- ``"C"`` (projection everywhere): a 1×1 conv + BN on every block.
- ``"none"``: no shortcut at all, the "plain" network of §4.1.

Two variants of B that later papers use: ``"B-nobn"`` (1×1 conv without BN, pre-activation nets
and Wide ResNets) and ``"B-avgdown"`` (average-pool then 1×1 conv + BN, the "ResNet-D" trick of
He et al. 2019, Bag of Tricks, §4.1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from resnetlab.models.config import SHORTCUTS


class ZeroPadShortcut(nn.Module):
    """Option A: take every ``stride``-th pixel and append zero channels up to ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError("zero-pad shortcut cannot reduce channels; use a projection")
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        extra = self.out_channels - self.in_channels
        return F.pad(x, (0, 0, 0, 0, 0, extra)) if extra else x

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


def make_shortcut(kind: str, in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    """The module computing S(x) for one block, or ``None`` for identity (or no shortcut).

    The returned module is stored as the block's ``downsample`` attribute so state_dict keys match
    torchvision (``layer2.0.downsample.0.weight``).
    """
    if kind not in SHORTCUTS:
        raise ValueError(f"unknown shortcut {kind!r}; choose one of {', '.join(SHORTCUTS)}")
    reshapes = stride != 1 or in_channels != out_channels
    if kind == "none" or (not reshapes and kind != "C"):
        return None
    if kind == "A":
        return ZeroPadShortcut(in_channels, out_channels, stride)
    if kind == "B-nobn":
        return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
    projection = [
        nn.Conv2d(in_channels, out_channels, 1, stride=1 if kind == "B-avgdown" else stride,
                  bias=False),
        nn.BatchNorm2d(out_channels),
    ]
    if kind == "B-avgdown":
        pool = (nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False)
                if stride > 1 else nn.Identity())
        projection.insert(0, pool)
    return nn.Sequential(*projection)
