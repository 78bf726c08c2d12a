"""Why weights do not fit a model: the first mismatching key, and which architecture they fit.

Both feed one-line :class:`~resnetlab.errors.CheckpointError` messages, so a user who passes
ResNet-50 weights to ``--model resnet18`` reads which key broke and what to pass instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from resnetlab.errors import ResnetlabError
from resnetlab.models.registry import list_models, resolve_config
from resnetlab.models.resnet import ResNet

COUNTER = "num_batches_tracked"
_STAGE_BLOCK = re.compile(r"^layer(\d+)\.(\d+)\.")


@dataclass
class Mismatch:
    """Keys that differ between a checkpoint and a model (in the model's key order)."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.shapes)

    @property
    def count(self) -> int:
        return len(self.missing) + len(self.unexpected) + len(self.shapes)

    def first(self, model_order: list[str]) -> str:
        """The first problem, in words: a missing or reshaped key of the model, else an extra."""
        for key in model_order:
            if key in self.shapes:
                file_shape, model_shape = self.shapes[key]
                return (f"{key} has shape {list(file_shape)} in the file but "
                        f"{list(model_shape)} in the model")
            if key in self.missing:
                return f"{key} is missing from the file"
        return f"the file has an unexpected key {self.unexpected[0]}"

    def only_classifier(self) -> bool:
        """True when just ``fc`` differs in shape (weights made for another class count)."""
        return (not self.missing and not self.unexpected and bool(self.shapes)
                and all(k.startswith("fc.") for k in self.shapes))


def compare(state: Mapping[str, torch.Tensor], reference: Mapping[str, torch.Tensor]) -> Mismatch:
    """What differs between ``state`` (a file) and ``reference`` (a model's state_dict)."""
    out = Mismatch()
    for key, ref in reference.items():
        if key not in state:
            if not key.endswith(COUNTER):  # BN's step counter: some exporters drop it
                out.missing.append(key)
        elif tuple(state[key].shape) != tuple(ref.shape):
            out.shapes[key] = (tuple(state[key].shape), tuple(ref.shape))
    out.unexpected = [k for k in state if k not in reference]
    return out


def _stage_blocks(keys) -> tuple[int, ...]:
    """Blocks per stage implied by ``layer{i}.{j}.`` keys, e.g. ``(3, 4, 6, 3)``."""
    counts: dict[int, int] = {}
    for key in keys:
        m = _STAGE_BLOCK.match(key)
        if m:
            stage, block = int(m.group(1)), int(m.group(2))
            counts[stage] = max(counts.get(stage, 0), block + 1)
    return tuple(counts[s] for s in sorted(counts))


def guess_architecture(state: Mapping[str, torch.Tensor]) -> list[str]:
    """Registered model names whose state_dict matches ``state`` exactly (keys and shapes).

    Only names with the right number of blocks per stage are built, on the ``meta`` device, so
    this costs milliseconds. Several names can match (a plain net and its option-A ResNet have
    identical parameters).
    """
    layers = _stage_blocks(state)
    if not layers:
        return []
    overrides = {}
    if "fc.weight" in state:
        overrides["num_classes"] = int(state["fc.weight"].shape[0])
    stem = state.get("conv1.weight", state.get("conv1.0.weight"))
    if stem is not None and stem.dim() == 4:
        overrides["in_chans"] = int(stem.shape[1])
    matches = []
    for name in list_models():
        try:
            if tuple(resolve_config(name).layers) != layers:
                continue
            with torch.device("meta"):  # shapes only: no memory, no init cost
                model = ResNet(resolve_config(name, **overrides))
        except (ResnetlabError, ValueError):
            continue
        if not compare(state, model.state_dict()):
            matches.append(name)
    return matches
