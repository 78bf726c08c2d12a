"""How fast the machine multiplies matrices, and what that allows a ResNet at most.

The GEMM is best timed *alternately with the model* (:func:`gemm_call`), so that ceiling and
throughput see the same load on a shared machine.

A ResNet's time goes mostly into convolutions, which oneDNN runs as matrix products; a large
square matrix product (GEMM) is about the best case for such kernels. So
``GEMM FLOP/s / FLOPs per image`` bounds the images per second no lever that keeps the
arithmetic (same precision, same FLOPs) can beat; the training ceiling is timed in the
precision of resnetlab's path (bf16 where the CPU has native bf16). A forward pass costs
``2 x MACs`` FLOPs; a training step about three times that (the backward pass computes
gradients for inputs and weights).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from resnetlab.analysis import count_macs_total
from resnetlab.bench.timing import Stats, alternate
from resnetlab.models import create_model

TRAIN_PASSES = 3  # forward + backward (input gradients) + backward (weight gradients)


def gemm_flops(dtypes: tuple[torch.dtype, ...] = (torch.float32, torch.bfloat16), *,
               size: int = 512, repeats: int = 3, min_seconds: float = 0.3
               ) -> dict[str, Stats]:
    """FLOP/s of an ``size x size`` matrix product on CPU, per dtype, timed alternately."""
    generator = torch.Generator().manual_seed(0)
    cases = {}
    for dtype in dtypes:
        a = torch.randn(size, size, generator=generator).to(dtype)
        b = torch.randn(size, size, generator=generator).to(dtype)
        cases[str(dtype).removeprefix("torch.")] = lambda a=a, b=b: torch.mm(a, b)
    seconds = alternate(cases, repeats=repeats, min_seconds=min_seconds)
    return {name: s.inverse(2.0 * size**3) for name, s in seconds.items()}


def gemm_call(size: int = 512, dtype: torch.dtype = torch.float32
              ) -> tuple[Callable[[], object], float]:
    """A ``size x size`` matrix product in ``dtype`` to time beside a model, and its FLOPs.

    Time it in the precision the measured path computes in: a bf16 path is bounded by the bf16
    GEMM rate, not the fp32 one."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(dtype)
    b = torch.randn(size, size, generator=generator).to(dtype)
    return (lambda: torch.mm(a, b)), 2.0 * size**3


def ceiling_images_per_second(macs_per_image: float, flops_per_second: float,
                              training: bool) -> float:
    """Images/s if every FLOP ran at ``flops_per_second`` (see the module docstring)."""
    flops = 2.0 * macs_per_image * (TRAIN_PASSES if training else 1)
    return flops_per_second / flops


def macs_per_image(model_name: str, image_size: int, num_classes: int) -> int:
    """Forward MACs of one image through a registered model (counted on the meta device)."""
    with torch.device("meta"):
        model = create_model(model_name, num_classes=num_classes)
    return count_macs_total(model, (1, 3, image_size, image_size), device="meta")
