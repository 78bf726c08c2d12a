"""Anatomy of one residual block: x, F(x), S(x), F(x)+S(x) and post(F(x)+S(x)).

The block's own ``forward`` is compared with the output recomputed from its parts; a block
whose forward does not wire ``post(F(x) + S(x))`` (or ``post(F(x))`` for a plain block) fails
the check. This is the definition of a residual block of He et al. 2015, eq. (1):
``y = F(x, {W_i}) + x`` followed by ReLU (or nothing, for pre-activation blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from resnetlab.errors import ConfigError
from resnetlab.models.blocks import ResidualBlock

# Recomputing the same float32 operations in the same order is bitwise exact; the tolerance
# only absorbs kernels that pick different algorithms between two calls.
TOLERANCE = 1e-6


def block_names(model: nn.Module) -> list[str]:
    """Qualified names of every residual block (``layer1.0``, ``layer1.1``, ...)."""
    return [n for n, m in model.named_modules() if isinstance(m, ResidualBlock)]


def get_block(model: nn.Module, name: str) -> ResidualBlock:
    """The block called ``name``; an unknown name raises :class:`ConfigError` with valid ones."""
    modules = dict(model.named_modules())
    block = modules.get(name)
    if not isinstance(block, ResidualBlock):
        names = block_names(model)
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        raise ConfigError(f"no residual block {name!r} in this model; pass --block with one of "
                          f"{shown} (last: {names[-1] if names else 'none'})")
    return block


@torch.no_grad()
def block_input(model: nn.Module, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What ``block`` receives when ``model`` sees ``x`` (captured by a pre-forward hook)."""
    captured: list[torch.Tensor] = []

    def grab(_module, args):
        captured.append(args[0].detach().clone())

    handle = block.register_forward_pre_hook(grab)
    try:
        model(x)
    finally:
        handle.remove()
    return captured[0]


@dataclass
class BlockAnatomy:
    """Every tensor of one block's computation and the consistency check."""

    x: torch.Tensor
    residual: torch.Tensor
    shortcut: torch.Tensor | None  # None for a plain block (no skip connection)
    total: torch.Tensor
    output: torch.Tensor  # post(F(x) + S(x)), computed from the parts
    own_output: torch.Tensor  # block(x)
    post_name: str

    @property
    def max_abs_diff(self) -> float:
        return float((self.own_output - self.output).abs().max())

    @property
    def allclose(self) -> bool:
        return self.own_output.shape == self.output.shape and self.max_abs_diff <= TOLERANCE


@torch.no_grad()
def dissect_block(block: ResidualBlock, x: torch.Tensor) -> BlockAnatomy:
    """F(x), S(x), their sum and ``post`` of it, next to the block's own ``forward(x)``.

    Put the block in eval mode first: in training mode every call would also update the
    BatchNorm running statistics.
    """
    residual = block.residual(x)
    shortcut = block.shortcut(x) if block.has_skip else None
    total = residual + shortcut if shortcut is not None else residual.clone()
    # post may be an in-place ReLU: give it a copy so ``total`` keeps the pre-activation sum.
    output = block.post(total.clone())
    own = block(x)
    post_name = "identity (pre-activation)" if block.preactivation else "ReLU"
    return BlockAnatomy(x, residual, shortcut, total, output, own, post_name)
