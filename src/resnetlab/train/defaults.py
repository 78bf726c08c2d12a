"""Per-dataset defaults of the ``train`` command: a model that suits the data and the recipe
changes the data calls for (applied before ``--set``, so the user always has the last word).

The digits row is the Quickstart: ``resnetlab train`` with no arguments must finish within
3 minutes on 2 CPU cores, imports included (measurements in docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from resnetlab.train.recipes import Recipe, get_recipe, resolve_recipe, with_overrides

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
    # Crop padding is left to the fast recipe's length rules (resnetlab.train.fit).
    "mnist": DataDefaults("resnet20", recipe=dict(_NO_FLIP)),
    "fashion-mnist": DataDefaults("resnet20"),
    "cifar10": DataDefaults("resnet20"),
    "cifar100": DataDefaults("resnet56"),
    "folder": DataDefaults("resnet18"),
}


def defaults_for(data_name: str) -> DataDefaults:
    """The defaults of ``data_name`` (a canonical dataset name); unknown names get none."""
    return DATA_DEFAULTS.get(data_name, DataDefaults())


def resolve_for_data(data_name: str, recipe: str | Recipe | None = None,
                     overrides: dict[str, Any] | None = None, epochs: int | None = None,
                     batch_size: int | None = None, time_budget: float | None = None,
                     default_length: bool = True) -> tuple[Recipe, int | None, float | None]:
    """``(recipe, epochs, time_budget)`` of a run, as ``resnetlab train`` and
    :func:`resnetlab.train` both choose them: a recipe given by name (default ``fast``) gets
    the dataset's recipe changes, then ``overrides``/``epochs``/``batch_size`` on top; with no
    length given (and ``default_length``), the dataset's default length. A :class:`Recipe`
    value is used as it is."""
    overrides = dict(overrides or {})
    if isinstance(recipe, Recipe):
        return resolve_recipe(recipe, overrides, epochs, batch_size), epochs, time_budget
    defaults = defaults_for(data_name)
    base = get_recipe(recipe or "fast")
    if defaults.recipe:
        base = with_overrides(base, defaults.recipe)
    if (default_length and epochs is None and time_budget is None
            and not {"epochs", "iterations"} & set(overrides)):
        epochs, time_budget = defaults.epochs, defaults.time_budget
    return resolve_recipe(base, overrides, epochs, batch_size), epochs, time_budget
