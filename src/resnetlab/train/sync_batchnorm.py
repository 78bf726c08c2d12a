"""SyncBatchNorm for CPU processes: batch statistics all-reduced over gloo.

In torch 2.14 ``nn.SyncBatchNorm`` refuses CPU tensors in training ("SyncBatchNorm expected
input tensor to be on GPU...") and DistributedDataParallel refuses it in CPU modules
("SyncBatchNorm layers only work with GPU modules"). CPU runs with ``--sync-bn`` therefore use
:class:`CpuSyncBatchNorm`: a BatchNorm with the same state and ``state_dict`` keys, whose
training forward computes the mean and variance of the *global* batch with two differentiable
all-reduces per layer. Evaluation, and training in a single process, are plain BatchNorm. It
is built for correctness (CPU tests, CPU clusters), not speed: every BatchNorm layer costs four
small collectives per step (two forward, two backward).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

# The group the statistics are reduced over: its own communicator, so that these blocking
# all-reduces (also run inside backward) never interleave with DDP's asynchronous gradient
# buckets on the default group. Module-level, because a process group cannot be deep-copied
# (ModelEma deep-copies the model).
_GROUP: dist.ProcessGroup | None = None


class _AllReduceSum(torch.autograd.Function):
    """``sum over ranks`` with its gradient: every rank's input feeds every rank's output, so
    the gradient of an input is the sum over ranks of the output gradients."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.clone()
        dist.all_reduce(out, group=_GROUP)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=_GROUP)
        return grad


def _world() -> int:
    return dist.get_world_size(_GROUP) if dist.is_available() and dist.is_initialized() else 1


class CpuSyncBatchNorm(_BatchNorm):
    """BatchNorm (any input rank) whose training statistics are reduced across processes.

    Two passes, as a single process computes them: the global mean first, then the global
    mean of squared deviations, so the result differs from one process holding the whole
    batch only by float rounding.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    @classmethod
    def from_batchnorm(cls, bn: _BatchNorm) -> CpuSyncBatchNorm:
        """A synchronised twin of ``bn`` that shares its parameters and buffers."""
        sync = cls(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
        for name, tensor in [*bn.named_parameters(recurse=False),
                             *bn.named_buffers(recurse=False)]:
            setattr(sync, name, tensor)
        return sync.train(bn.training)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training or _world() == 1:
            return _BatchNorm.forward(self, input)
        self._check_input_dim(input)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked)
        x = input if input.dtype in (torch.float32, torch.float64) else input.float()
        dims = [d for d in range(x.dim()) if d != 1]
        shape = [1, -1] + [1] * (x.dim() - 2)
        local_count = x.new_tensor([x.numel() // x.shape[1]])
        first = _AllReduceSum.apply(torch.cat([x.sum(dims), local_count]))
        count = first[-1].detach()
        mean = first[:-1] / count
        centered = x - mean.view(shape)
        var = _AllReduceSum.apply((centered * centered).sum(dims)) / count
        out = centered * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                unbiased = var * (count / (count - 1).clamp(min=1))
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), momentum)
        return out.to(input.dtype)


def convert_sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm of ``model`` synchronised across the process group; call on all ranks.

    CUDA gets torch's own ``SyncBatchNorm``; CPU gets :class:`CpuSyncBatchNorm` over a
    dedicated gloo group. Parameters and buffers are kept (the same tensors), so the optimizer
    may be built before or after, and checkpoints load either way.
    """
    global _GROUP
    if device.type != "cpu":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if _GROUP is None and dist.is_available() and dist.is_initialized():
        _GROUP = dist.new_group(backend="gloo")
    if isinstance(model, _BatchNorm):
        return CpuSyncBatchNorm.from_batchnorm(model)
    for name, module in list(model.named_modules()):
        if isinstance(module, _BatchNorm) and not isinstance(module, CpuSyncBatchNorm):
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, CpuSyncBatchNorm.from_batchnorm(module))
    return model
