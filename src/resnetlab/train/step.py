"""The one training step: forward, loss, backward, optimizer step, EMA update.

Everything that trains a model in resnetlab runs this function: the training loop
(:meth:`resnetlab.train.trainer.Trainer.train_step`, which also sets the step's learning
rate), the benchmark's resnetlab path (which runs that trainer step) and the lab's
experiments. Only the benchmark's stock baseline keeps its own few lines, being the baseline.

Nothing here reads a device tensor on the host: the loss and the number of correct
predictions come back as device tensors, and the caller reads them when it needs them (the
loop once per log interval), so on a GPU the host keeps queueing steps ahead of the device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from resnetlab.hardware import Placement
from resnetlab.train.ema import ModelEma


def train_step(net: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
               y: torch.Tensor, *, where: Placement | None = None,
               label_smoothing: float = 0.0, ema: ModelEma | None = None,
               weights: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step of ``net`` on the batch ``(x, y)``; returns ``(loss, correct)``.

    ``where`` sets the memory format of ``x`` and the autocast of the forward (``None``: as
    they are, fp32). The loss is the cross-entropy with ``label_smoothing``, computed in fp32.
    ``ema`` (if any) then moves towards ``weights``, the module holding the weights (default
    ``net``; it differs when ``net`` is a DDP wrapper or a compiled forward). ``loss`` is the
    batch's mean loss and ``correct`` its number of right top-1 predictions, both 0-d
    tensors on the device.
    """
    if where is not None:
        x = x.contiguous(memory_format=where.memory_format)
        with where.autocast():
            logits = net(x)
    else:
        logits = net(x)
    loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if ema is not None:
        ema.update(weights if weights is not None else net)
    correct = (logits.detach().argmax(dim=1) == y).sum()
    return loss.detach(), correct
