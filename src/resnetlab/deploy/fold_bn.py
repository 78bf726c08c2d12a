"""Fold BatchNorm into the convolution before it, for inference.

At inference a BN layer is a fixed per-channel affine map, ``y = gamma * (x - mean) /
sqrt(var + eps) + beta``. When its input is a convolution's output and nothing else reads that
output, the map can be moved into the convolution's weights and bias, saving one pass over the
feature map. Only such conv → BN pairs are folded: in a pre-activation block the first BN reads
the block's *input* (a sum), so it stays, as does the final BN after the last sum; the BN that
follows the first conv inside such a block is folded like any other.

Pairs are found on the traced graph (``torch.fx``), not by module names, so any wiring is safe;
the modules are then replaced in a copy of the model, which keeps its class and methods.
"""

from __future__ import annotations

import copy

import torch.fx
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from resnetlab.errors import ConfigError


def _module_calls(graph: torch.fx.Graph) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            counts[node.target] = counts.get(node.target, 0) + 1
    return counts


def find_conv_bn_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """``(conv_name, bn_name)`` pairs where the BN is the only reader of the conv's output."""
    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception as exc:  # tracing fails in many model-specific ways
        raise ConfigError(f"cannot trace {type(model).__name__} to fold BatchNorm "
                          f"({type(exc).__name__}: {str(exc)[:80]}); export without --fold-bn"
                          ) from None
    modules = dict(model.named_modules())
    calls = _module_calls(graph)
    pairs = []
    for node in graph.nodes:
        if node.op != "call_module" or not isinstance(modules[node.target], nn.BatchNorm2d):
            continue
        source = node.args[0] if node.args else None
        if (isinstance(source, torch.fx.Node) and source.op == "call_module"
                and isinstance(modules[source.target], nn.Conv2d)
                and len(source.users) == 1
                and calls[source.target] == 1 and calls[node.target] == 1):
            pairs.append((source.target, node.target))
    return pairs


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every conv → BN pair merged into one conv.

    The original is untouched. The copy computes the same function in eval mode (up to float
    rounding) with fewer layers; it must not be trained further, since its BNs are gone.
    """
    folded = copy.deepcopy(model).eval()
    for conv_name, bn_name in find_conv_bn_pairs(folded):
        conv = folded.get_submodule(conv_name)
        bn = folded.get_submodule(bn_name)
        _replace(folded, conv_name, fuse_conv_bn_eval(conv, bn))
        _replace(folded, bn_name, nn.Identity())
    folded.bn_folded = True
    return folded
