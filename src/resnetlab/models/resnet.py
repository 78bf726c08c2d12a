"""One configurable ResNet: stem → stages of residual blocks → global pool → linear classifier.

Every named variant (ImageNet ResNets, the CIFAR 6n+2 family, plain twins, pre-activation,
Wide ResNet, ResNeXt) is a :class:`ResNetConfig`; there is no per-variant class. Module names
match torchvision (``conv1``, ``bn1``, ``maxpool``, ``layer1``…``layer4``, ``fc``).
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from resnetlab.models.blocks import BLOCKS, ResidualBlock
from resnetlab.models.config import ResNetConfig


def _make_stem(cfg: ResNetConfig) -> dict[str, nn.Module]:
    """Stem modules by torchvision name; ``cifar-preact`` is a bare conv (BN comes in block 1)."""
    w = cfg.stem_width
    if cfg.stem == "imagenet":
        conv = nn.Conv2d(cfg.in_chans, w, 7, stride=2, padding=3, bias=False)
    elif cfg.stem == "deep":  # three 3×3 convs (ResNet-C, Bag of Tricks §4.1; timm "resnet50d")
        half = w // 2
        conv = nn.Sequential(
            nn.Conv2d(cfg.in_chans, half, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            nn.Conv2d(half, half, 3, padding=1, bias=False),
            nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            nn.Conv2d(half, w, 3, padding=1, bias=False),
        )
    else:
        conv = nn.Conv2d(cfg.in_chans, w, 3, stride=1, padding=1, bias=False)
    stem: dict[str, nn.Module] = {"conv1": conv}
    if cfg.stem != "cifar-preact":
        stem["bn1"] = nn.BatchNorm2d(w)
        stem["relu"] = nn.ReLU(inplace=True)
    if cfg.stem in ("imagenet", "deep"):
        stem["maxpool"] = nn.MaxPool2d(3, stride=2, padding=1)
    return stem


class ResNet(nn.Module):
    """A residual network built from a :class:`ResNetConfig`.

    ``forward_features`` gives the last stage's feature map, ``forward_head`` pools and
    classifies, ``stage_outputs`` gives every stage's output (for feature pyramids and the lab).
    """

    def __init__(self, config: ResNetConfig, name: str | None = None) -> None:
        super().__init__()
        self.config = config.validate()
        # The registered name it was built from (None for a hand-made config): what a saved
        # model.json records so that the model can be rebuilt without the training code.
        self.variant_name = name
        for name, module in _make_stem(config).items():
            self.add_module(name, module)
        block = BLOCKS[config.block]
        channels = config.stem_width
        self.stage_names: list[str] = []
        self.stage_channels: list[int] = []
        for i, (n, planes) in enumerate(zip(config.layers, config.widths, strict=True)):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(block(channels, planes, stride, shortcut=config.shortcut,
                                    groups=config.groups, base_width=config.base_width,
                                    dropout=config.dropout))
                channels = planes * block.expansion
            name = f"layer{i + 1}"
            self.add_module(name, nn.Sequential(*blocks))
            self.stage_names.append(name)
            self.stage_channels.append(channels)
        if block.preactivation:  # the last block's sum is un-normalized (He et al. 2016, §3)
            self.final_bn = nn.BatchNorm2d(channels)
            self.final_relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.num_features = channels
        self.fc = nn.Linear(channels, config.num_classes)
        self.reset_parameters()

    @property
    def num_classes(self) -> int:
        return self.fc.out_features

    def reset_parameters(self) -> None:
        """He initialization (He et al. 2015b) for convs; BN to identity; optional zero-init."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if self.config.zero_init_residual:
            # Goyal et al. 2017, §5.1: each block starts as identity, easing early training.
            for m in self.modules():
                if isinstance(m, ResidualBlock) and m.last_bn() is not None:
                    nn.init.zeros_(m.last_bn().weight)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """Stem: conv (+ BN + ReLU) (+ max-pool)."""
        x = self.conv1(x)
        if hasattr(self, "bn1"):
            x = self.relu(self.bn1(x))
        if hasattr(self, "maxpool"):
            x = self.maxpool(x)
        return x

    def stage_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The stem output followed by each stage's output."""
        outs = [self.stem(x)]
        for name in self.stage_names:
            outs.append(getattr(self, name)(outs[-1]))
        return outs

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map of the last stage (after the final BN-ReLU for pre-activation nets)."""
        x = self.stem(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        if hasattr(self, "final_bn"):
            x = self.final_relu(self.final_bn(x))
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global average pool, then the classifier (skipped when ``pre_logits``)."""
        x = torch.flatten(self.avgpool(x), 1)
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """Replace ``fc`` with a freshly initialised one for ``num_classes`` (transfer learning)."""
        self.fc = nn.Linear(self.num_features, num_classes).to(self.fc.weight.device)
        self.config = replace(self.config, num_classes=num_classes)
