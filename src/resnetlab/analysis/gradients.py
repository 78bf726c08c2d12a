"""Per-layer gradient norms of a classifier on one batch: how well does the signal flow back?

Two views of the same backward pass:

- the gradient of the loss w.r.t. each convolution's **weights** (``conv_grad_norms``), what
  the optimizer actually uses;
- the gradient w.r.t. each residual block's **output** (``block_grad_rms``, root-mean-square
  per element), the signal travelling back through the network.

Shortcut projections (``downsample``) sit beside the main path and are left out, so a plain
net and its ResNet list the same convolutions in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from resnetlab.models.blocks import ResidualBlock


def main_path_convs(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """``(name, conv)`` in forward order, without shortcut projections."""
    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, nn.Conv2d) and "downsample" not in n]


@dataclass
class GradientReport:
    """Gradient norms of one backward pass, input side first."""

    loss: float
    conv_names: list[str]
    conv_grad_norms: list[float]
    block_names: list[str] = field(default_factory=list)
    block_grad_rms: list[float] = field(default_factory=list)

    @property
    def first_last_ratio(self) -> float:
        """Gradient norm of the first conv's weights over the last conv's."""
        return self.conv_grad_norms[0] / self.conv_grad_norms[-1]

    @property
    def block_first_last_ratio(self) -> float | None:
        """RMS gradient at the first block's output over the last block's."""
        if not self.block_grad_rms:
            return None
        return self.block_grad_rms[0] / self.block_grad_rms[-1]

    def to_dict(self) -> dict:
        return {
            "loss": self.loss,
            "conv_grad_norms": self.conv_grad_norms,
            "first_last_ratio": self.first_last_ratio,
            "block_grad_rms": self.block_grad_rms,
            "block_first_last_ratio": self.block_first_last_ratio,
        }


def gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> GradientReport:
    """Cross-entropy on ``(x, y)``, one backward pass, every norm; gradients are cleared after.

    The model is used in its current mode: in training mode BatchNorm normalizes with the
    batch's statistics, which is the regime in which the network is trained.
    """
    outputs: list[tuple[str, torch.Tensor]] = []

    def keep(name):
        def hook(_module, _args, out):
            out.retain_grad()
            outputs.append((name, out))
        return hook

    blocks = [(n, m) for n, m in model.named_modules() if isinstance(m, ResidualBlock)]
    handles = [m.register_forward_hook(keep(n)) for n, m in blocks]
    model.zero_grad(set_to_none=True)
    try:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
    finally:
        for h in handles:
            h.remove()
    convs = main_path_convs(model)
    report = GradientReport(
        loss=float(loss.detach()),
        conv_names=[n for n, _ in convs],
        conv_grad_norms=[float(m.weight.grad.norm()) for _, m in convs],
        block_names=[n for n, _ in outputs],
        block_grad_rms=[float(t.grad.norm()) / t.numel() ** 0.5 for _, t in outputs],
    )
    model.zero_grad(set_to_none=True)
    return report
