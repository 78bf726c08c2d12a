"""Parameter and multiply-accumulate (MAC) counts of a single module call.

The conventions are torchinfo 1.8's "mult-adds", so our totals can be checked against it:

* a convolution reuses each weight (and bias) at every output position of every sample, so it
  costs ``weights * batch * prod(spatial output dims)``;
* any other ``weight`` / ``bias`` (Linear, BatchNorm, LayerNorm, ...) is charged once per sample:
  ``weights * batch``;
* recurrent-style parameters (``weight_ih_l0``...) are charged per sample and per step:
  ``weights * output.shape[0] * output.shape[1]``;
* parameter-free modules (ReLU, pooling, ...) and functional ops (the residual ``+``) cost 0.

Pruned weights (``torch.nn.utils.prune`` keeps ``weight_orig`` plus a 0/1 ``weight_mask``
buffer) count only their unmasked entries, both as parameters and in MACs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.parameter import is_lazy

_PRUNED_SUFFIX = "_orig"


@dataclass(frozen=True)
class ParamCount:
    """One parameter tensor of a module, as counted for summaries."""

    name: str  # with the pruning suffix removed: "weight", not "weight_orig"
    count: int  # live entries (all of them unless the tensor is pruned)
    trainable: bool
    nbytes: int
    tensor_id: int  # lets callers count a tensor shared by several modules once


def param_counts(module: nn.Module, *, recurse: bool = False) -> Iterator[ParamCount]:
    """Yield the counted parameters of ``module`` (its own only, unless ``recurse``).

    Lazy parameters that are not materialised yet are skipped: they have no size.
    """
    for name, param in module.named_parameters(recurse=recurse):
        if is_lazy(param):
            continue
        count, base = param.numel(), name
        if name.endswith(_PRUNED_SUFFIX):
            owner_path, _, leaf = name.rpartition(".")
            owner = module.get_submodule(owner_path) if owner_path else module
            mask = getattr(owner, leaf[: -len(_PRUNED_SUFFIX)] + "_mask", None)
            if isinstance(mask, torch.Tensor):
                count = int(mask.sum().item())
                base = name[: -len(_PRUNED_SUFFIX)]
        yield ParamCount(
            name=base,
            count=count,
            trainable=param.requires_grad,
            nbytes=count * param.element_size(),
            tensor_id=id(param),
        )


def first_tensor(output: Any) -> torch.Tensor | None:
    """The tensor that stands for a module's output: itself, the first item of a sequence or
    the last value of a mapping (torchinfo's choice); None when there is no tensor."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (list, tuple)) and output:
        return first_tensor(output[0])
    if isinstance(output, dict) and output:
        return first_tensor(list(output.values())[-1])
    return None


def count_macs(module: nn.Module, output: Any) -> int:
    """MACs of one call of ``module`` that returned ``output`` (whole batch included).

    Only the module's own parameters are looked at, so call it for leaf modules; a container's
    cost is the sum over the leaves it ran.
    """
    out = first_tensor(output)
    if out is None or out.dim() == 0:
        return 0
    shape = tuple(out.shape)
    is_conv = "Conv" in type(module).__name__
    per_sample_positions = math.prod(shape[2:]) if is_conv else 1
    steps = math.prod(shape[:2])
    total = 0
    for p in param_counts(module):
        if p.name in ("weight", "bias"):
            total += p.count * shape[0] * per_sample_positions
        elif "weight" in p.name or "bias" in p.name:
            total += p.count * steps
    return total
