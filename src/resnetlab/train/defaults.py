"""Per-dataset defaults of the ``train`` command: a model that suits the data and the recipe
changes the data calls for (applied before ``--set``, so the user always has the last word).

The digits row is the Quickstart: ``resnetlab train`` with no arguments must finish within
3 minutes on 2 CPU cores, imports included (measurements in docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Handwritten digits are not mirror-symmetric (a flipped 2 is no 2), so no flip, no flip TTA.
_NO_FLIP = {"flip": False, "tta_flip": False}


@dataclass(frozen=True)
class DataDefaults:
    model: str = "resnet20"
    image_size: int | None = None
    epochs: int | None = None
    time_budget: float | None = None
    threads: int | None = None
    recipe: dict[str, Any] = field(default_factory=dict)


DATA_DEFAULTS: dict[str, DataDefaults] = {
    # 8x8 digits upscaled to 16x16: resnet20's two stride-2 stages then end at 4x4.
    # The budget caps the Quickstart on a slow or busy machine: at most 12 epochs or 150 s.
    # One thread: on 16x16 images each op is too small to gain from a second thread, and a
    # second OpenMP thread makes every op wait for it when other processes share the cores
    # (measured 520 img/s with one thread vs 40-120 img/s with two on a busy 2-core machine).
    "digits": DataDefaults("resnet20", image_size=16, epochs=12, time_budget=150, threads=1,
                           recipe={**_NO_FLIP, "pad": 2, "batch_size": 64, "lr": 0.1}),
    "mnist": DataDefaults("resnet20", recipe={**_NO_FLIP, "pad": 2}),
    "fashion-mnist": DataDefaults("resnet20", recipe={"pad": 2}),
    "cifar10": DataDefaults("resnet20"),
    "cifar100": DataDefaults("resnet56"),
    "folder": DataDefaults("resnet18"),
}


def defaults_for(data_name: str) -> DataDefaults:
    """The defaults of ``data_name`` (a canonical dataset name); unknown names get none."""
    return DATA_DEFAULTS.get(data_name, DataDefaults())
