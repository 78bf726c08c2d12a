"""The optimizer a recipe asks for, with the weight-decay exemptions it asks for."""

from __future__ import annotations

import torch
from torch import nn

from resnetlab.train.recipes import Recipe


def param_groups(model: nn.Module, weight_decay: float, decay_norm_and_bias: bool) -> list[dict]:
    """One group with decay and, unless ``decay_norm_and_bias``, one without it for biases and
    normalization parameters ("no bias decay", He et al. 2019, Bag of Tricks, sec. 3.1)."""
    if decay_norm_and_bias:
        return [{"params": [p for p in model.parameters() if p.requires_grad],
                 "weight_decay": weight_decay}]
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            # 1-d tensors are exactly the biases and the BatchNorm scales/shifts.
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """SGD with the recipe's momentum / Nesterov / weight decay (lr is set every step)."""
    groups = param_groups(model, recipe.weight_decay, recipe.decay_norm_and_bias)
    return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum,
                           nesterov=recipe.nesterov)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
