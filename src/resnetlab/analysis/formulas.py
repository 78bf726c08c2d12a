"""Where a layer's parameter count comes from, as a line a student can check by hand.

``Conv2d``: ``out × in/groups × kh × kw (+ out)``, e.g. ResNet-18's stem ``64 × 3 × 7 × 7 =
9,408``; ``BatchNorm``: ``C × 2`` (the learned scale γ and shift β; the running statistics are
buffers, not parameters); ``Linear``: ``in × out + out``, inputs first as the course notes
write it (``512 × 1000 + 1000``; the same product as the weight's ``out × in`` shape). Layers
without parameters get ``""``; any other layer with parameters gets the sum of its tensors'
shapes. The result after ``=``
is the summary's ``params`` of that layer (``tests/test_formulas.py`` checks every row).
"""

from __future__ import annotations

import math

from torch import nn

from resnetlab.analysis.macs import param_counts

TIMES = " × "
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def _terms(module: nn.Module) -> list[str]:
    """The formula's terms: the textbook ones for convolutions, BatchNorm and Linear layers,
    else one product of dimensions per parameter tensor."""
    bias = getattr(module, "bias", None) is not None
    if isinstance(module, _CONVS):
        factors = [module.out_channels, module.in_channels // module.groups,
                   *module.kernel_size]
        return [TIMES.join(map(str, factors))] + ([str(module.out_channels)] if bias else [])
    if isinstance(module, _BATCHNORMS) and module.affine:
        return [f"{module.num_features}{TIMES}2"]
    if isinstance(module, nn.Linear):
        return [f"{module.in_features}{TIMES}{module.out_features}"] + (
            [str(module.out_features)] if bias else [])
    return [TIMES.join(map(str, p.shape)) or "1" for p in module.parameters() if p.numel()]


def param_formula(module: nn.Module) -> str:
    """``"64 × 3 × 7 × 7 = 9,408"``: how ``module``'s parameters add up ("" if it has none).

    Pruned weights (``torch.nn.utils.prune``) count their live entries only, as the summary
    does: the formula then subtracts the pruned ones.
    """
    total = sum(p.count for p in param_counts(module, recurse=True))
    full = sum(p.numel() for p in module.parameters())
    if not full:
        return ""
    pruned = f" − {full - total:,} pruned" if full != total else ""
    return f"{' + '.join(_terms(module))}{pruned} = {total:,}"


def evaluate_formula(formula: str) -> int:
    """The value of a formula's left-hand side (``"2 × 3 + 4 = 10"`` → 10), for checking."""
    left, _, _ = formula.partition("=")
    left, _, pruned = left.partition("−")
    value = sum(math.prod(int(f) for f in term.split("×")) for term in left.split("+"))
    return value - (int(pruned.replace("pruned", "").replace(",", "")) if pruned else 0)
