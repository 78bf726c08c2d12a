"""LeNet-5 with sigmoid activations, with or without BatchNorm: the BatchNorm ablation's model.

The layout follows LeCun et al. 1998 as modernised in "Dive into Deep Learning" (§7.6 LeNet,
§8.5 Batch Normalization): 5×5 convs with 6 and 16 channels, 2×2 average pooling, dense layers
of 120 and 84 units, sigmoid everywhere. With ``batchnorm=True`` a BatchNorm follows every
conv/linear layer except the last, before the activation (Ioffe & Szegedy 2015, §3.2).
"""

from __future__ import annotations

from torch import nn


def lenet5(num_classes: int = 10, in_chans: int = 1, batchnorm: bool = False,
           image_size: int = 28) -> nn.Sequential:
    """LeNet-5 for ``in_chans × image_size × image_size`` inputs (28 for (Fashion-)MNIST)."""

    def norm(n: int, dims: int) -> list[nn.Module]:
        if not batchnorm:
            return []
        return [nn.BatchNorm2d(n) if dims == 2 else nn.BatchNorm1d(n)]

    side = ((image_size + 4 - 4) // 2 - 4) // 2  # conv5 pad 2, pool 2, conv5, pool 2
    layers: list[nn.Module] = [
        nn.Conv2d(in_chans, 6, 5, padding=2), *norm(6, 2), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), *norm(16, 2), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * side * side, 120), *norm(120, 1), nn.Sigmoid(),
        nn.Linear(120, 84), *norm(84, 1), nn.Sigmoid(),
        nn.Linear(84, num_classes),
    ]
    model = nn.Sequential(*layers)
    for m in model.modules():
        # Xavier/Glorot init, suited to sigmoid (and what d2l uses for this experiment).
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return model
