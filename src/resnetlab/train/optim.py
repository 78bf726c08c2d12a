"""The optimizer a recipe asks for, with the weight-decay exemptions it asks for."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from resnetlab.train.recipes import Recipe


def param_groups(model: nn.Module, weight_decay: float, decay_norm_and_bias: bool,
                 lr_scales: Mapping[str, float] | None = None) -> list[dict]:
    """One group with decay and, unless ``decay_norm_and_bias``, one without it for biases and
    normalization parameters ("no bias decay", He et al. 2019, Bag of Tricks, sec. 3.1).

    ``lr_scales`` (parameter name -> factor, from fine-tuning's discriminative learning rates)
    gives one such pair per factor, each group carrying ``lr_scale`` so that :func:`set_lr`
    gives it ``lr * lr_scale``.
    """
    scales = dict(lr_scales or {})
    buckets: dict[tuple[float, bool], list] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            # 1-d tensors are exactly the biases and the BatchNorm scales/shifts.
            decays = decay_norm_and_bias or p.ndim > 1
            buckets.setdefault((float(scales.get(name, 1.0)), decays), []).append(p)
    groups = []
    for scale in sorted({s for s, _ in buckets} or {1.0}, reverse=True):
        for decays in (True, False):
            if (scale, decays) in buckets or (not scales and (decays or not decay_norm_and_bias)):
                groups.append({"params": buckets.get((scale, decays), []),
                               "weight_decay": weight_decay if decays else 0.0,
                               "lr_scale": scale})
    return groups


def build_optimizer(model: nn.Module, recipe: Recipe,
                    lr_scales: Mapping[str, float] | None = None) -> torch.optim.Optimizer:
    """SGD with the recipe's momentum / Nesterov / weight decay (lr is set every step), with
    per-parameter lr factors ``lr_scales`` (see :func:`param_groups`)."""
    groups = param_groups(model, recipe.weight_decay, recipe.decay_norm_and_bias, lr_scales)
    return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum,
                           nesterov=recipe.nesterov)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
