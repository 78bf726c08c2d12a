"""Residual blocks: each computes ``out = act(F(x) + S(x))`` with F and S as separate methods.

Attribute names follow torchvision (``conv1``, ``bn1``, ``conv2``, ``bn2``, ``conv3``, ``bn3``,
``downsample``) so ImageNet state_dicts load unchanged. ``residual(x)`` is F(x) and
``shortcut(x)`` is S(x); the lab uses both to show the sum, and the plain networks (shortcut
``"none"``) simply skip S.

- :class:`BasicBlock`: two 3×3 convs (He et al. 2015, Fig. 5 left).
- :class:`BottleneckBlock`: 1×1 reduce, 3×3 (stride here, as torchvision's "ResNet v1.5"), 1×1
  expand (Fig. 5 right); ``groups``/``base_width`` give ResNeXt (Xie et al. 2017) and Wide
  ResNet-50/101.
- :class:`PreActBasicBlock`, :class:`PreActBottleneckBlock`: BN and ReLU *before* each conv and no
  ReLU after the sum (He et al. 2016, "Identity Mappings", Fig. 4e); ``dropout`` between the convs
  gives the Wide ResNet block (Zagoruyko & Komodakis 2016).
"""

from __future__ import annotations

import torch
from torch import nn

from resnetlab.models.config import BLOCK_NAMES
from resnetlab.models.shortcuts import make_shortcut


def conv3x3(in_ch: int, out_ch: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """3×3 convolution with padding 1 and no bias (a BN follows or precedes it)."""
    return nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    """1×1 convolution without bias."""
    return nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False)


class ResidualBlock(nn.Module):
    """Shared wiring: ``forward = post(F(x) + S(x))``; subclasses define ``residual``."""

    expansion = 1
    preactivation = False

    def __init__(self, in_channels: int, out_channels: int, stride: int, shortcut: str) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.has_skip = shortcut != "none"
        self._shortcut_kind = shortcut

    def _add_shortcut(self) -> None:
        """Create ``downsample`` last, so state_dict keys come in torchvision's order."""
        self.downsample = make_shortcut(self._shortcut_kind, self.in_channels, self.out_channels,
                                        self.stride)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The residual branch F(x)."""
        raise NotImplementedError

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """The shortcut S(x): identity, zero-pad or projection."""
        return x if self.downsample is None else self.downsample(x)

    def post(self, y: torch.Tensor) -> torch.Tensor:
        """What follows the sum: ReLU for the original blocks, nothing for pre-activation."""
        return self.relu(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.residual(x)
        if self.has_skip:
            out = out + self.shortcut(x)
        return self.post(out)

    def last_bn(self) -> nn.BatchNorm2d | None:
        """The BN closing the residual branch (zero-initialised by ``zero_init_residual``)."""
        return None


class BasicBlock(ResidualBlock):
    """Two 3×3 conv-BN layers, ReLU between and after the sum."""

    def __init__(self, in_channels: int, planes: int, stride: int = 1, shortcut: str = "B",
                 groups: int = 1, base_width: int = 64, dropout: float = 0.0) -> None:
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock supports only groups=1 and base_width=64")
        super().__init__(in_channels, planes, stride, shortcut)
        self.conv1 = conv3x3(in_channels, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self._add_shortcut()

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.drop(self.relu(self.bn1(self.conv1(x))))
        return self.bn2(self.conv2(out))

    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2


class BottleneckBlock(ResidualBlock):
    """1×1 reduce → 3×3 (grouped for ResNeXt) → 1×1 expand by ``expansion`` = 4."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, shortcut: str = "B",
                 groups: int = 1, base_width: int = 64, dropout: float = 0.0) -> None:
        super().__init__(in_channels, planes * self.expansion, stride, shortcut)
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self._add_shortcut()

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.drop(self.relu(self.bn2(self.conv2(out))))
        return self.bn3(self.conv3(out))

    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3


class _PreActivation(ResidualBlock):
    """Pre-activation wiring: a = ReLU(BN(x)) feeds F, and feeds S when S is a projection."""

    preactivation = True

    def _preact(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn1(x))

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self._branch(self._preact(x))

    def _branch(self, a: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        # He et al. 2016 (and the Wide ResNet code): a projection sees the pre-activated input,
        # while an identity shortcut carries the raw x, keeping the path clean.
        if self.downsample is None:
            return x
        return self.downsample(self._preact(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self._preact(x)
        out = self._branch(a)
        if self.has_skip:
            out = out + (x if self.downsample is None else self.downsample(a))
        return out

    def post(self, y: torch.Tensor) -> torch.Tensor:
        return y


class PreActBasicBlock(_PreActivation):
    """BN-ReLU-conv3×3, BN-ReLU-(dropout)-conv3×3; identity after the sum."""

    def __init__(self, in_channels: int, planes: int, stride: int = 1, shortcut: str = "B-nobn",
                 groups: int = 1, base_width: int = 64, dropout: float = 0.0) -> None:
        if groups != 1 or base_width != 64:
            raise ValueError("PreActBasicBlock supports only groups=1 and base_width=64")
        super().__init__(in_channels, planes, stride, shortcut)
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = conv3x3(in_channels, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = conv3x3(planes, planes)
        self.relu = nn.ReLU(inplace=False)  # a is reused by the projection shortcut
        self._add_shortcut()

    def _branch(self, a: torch.Tensor) -> torch.Tensor:
        out = self.conv1(a)
        return self.conv2(self.drop(self.relu(self.bn2(out))))


class PreActBottleneckBlock(_PreActivation):
    """BN-ReLU-conv1×1, BN-ReLU-conv3×3, BN-ReLU-conv1×1 (×4); identity after the sum."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, shortcut: str = "B-nobn",
                 groups: int = 1, base_width: int = 64, dropout: float = 0.0) -> None:
        super().__init__(in_channels, planes * self.expansion, stride, shortcut)
        width = int(planes * (base_width / 64.0)) * groups
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = conv1x1(in_channels, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups)
        self.bn3 = nn.BatchNorm2d(width)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.relu = nn.ReLU(inplace=False)
        self._add_shortcut()

    def _branch(self, a: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.relu(self.bn2(self.conv1(a))))
        return self.conv3(self.drop(self.relu(self.bn3(out))))


# The names are the config's (torch-free) list; zip(strict=True) keeps the two in step.
BLOCKS: dict[str, type[ResidualBlock]] = dict(zip(
    BLOCK_NAMES, (BasicBlock, BottleneckBlock, PreActBasicBlock, PreActBottleneckBlock),
    strict=True))
