"""Training recipes: every hyper-parameter of a run as one frozen, printable record.

A recipe is data, not a code path: the training loop reads its fields and nothing else, so a
new recipe is a new :class:`Recipe` value and any field can be overridden with ``--set k=v``.
Where each default comes from is documented in ``docs/recipes.md``.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from resnetlab.errors import ConfigError

SCHEDULES = ("step", "cosine", "linear", "constant")
OPTIMIZERS = ("sgd",)


@dataclass(frozen=True)
class Recipe:
    """Hyper-parameters of one training run.

    Length: ``epochs`` or ``iterations`` (exactly one is > 0; setting one clears the other); a
    time budget given to :func:`resnetlab.train.train` replaces both. ``milestones`` and
    ``warmup_frac`` are fractions of the total number of steps, so a schedule keeps its shape
    when the length changes (he2016: 32k and 48k of 64k iterations are 0.5 and 0.75).
    """

    name: str = "custom"
    summary: str = ""
    # optimizer
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    decay_norm_and_bias: bool = True
    batch_size: int = 128
    # length
    epochs: int = 0
    iterations: int = 64000
    # learning-rate schedule
    schedule: str = "step"
    milestones: tuple[float, ...] = (0.5, 0.75)
    gamma: float = 0.1
    final_lr_frac: float = 0.0
    warmup_frac: float = 0.0
    warmup_lr: float = 0.01
    warmup_until_error: float = 0.0
    warmup_min_depth: int = 0
    # regularisation and evaluation
    label_smoothing: float = 0.0
    ema: float = 0.0
    tta_flip: bool = False
    # data
    pad: int = 4
    flip: bool = True
    cutout: int = 0
    val_size: float = 0.0
    image_size: int = 0
    # fitting to the run (resnetlab.train.fit): fields left to the length rules, and the
    # fields set explicitly that those rules must not touch
    adapt: bool = False
    pinned: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first field with an impossible value."""
        checks = [
            (self.optimizer in OPTIMIZERS, "optimizer", f"one of {', '.join(OPTIMIZERS)}"),
            (self.schedule in SCHEDULES, "schedule", f"one of {', '.join(SCHEDULES)}"),
            (self.lr > 0, "lr", "> 0"),
            (0 <= self.momentum < 1, "momentum", "in [0, 1)"),
            (not self.nesterov or self.momentum > 0, "nesterov", "used with momentum > 0"),
            (self.weight_decay >= 0, "weight_decay", ">= 0"),
            (self.batch_size >= 1 or (self.adapt and self.batch_size == 0), "batch_size",
             ">= 1 (or 0, automatic, in an adaptive recipe)"),
            (self.epochs >= 0, "epochs", ">= 1"),
            (self.iterations >= 0, "iterations", ">= 1"),
            (all(0 < m < 1 for m in self.milestones), "milestones", "fractions in (0, 1)"),
            (0 < self.gamma <= 1, "gamma", "in (0, 1]"),
            (0 <= self.final_lr_frac <= 1, "final_lr_frac", "in [0, 1]"),
            (0 <= self.warmup_frac < 1, "warmup_frac", "in [0, 1)"),
            (self.warmup_lr > 0, "warmup_lr", "> 0"),
            (0 <= self.warmup_until_error < 1, "warmup_until_error", "in [0, 1)"),
            (self.warmup_min_depth >= 0, "warmup_min_depth", ">= 0"),
            (0 <= self.label_smoothing < 1, "label_smoothing", "in [0, 1)"),
            (0 <= self.ema < 1, "ema", "in [0, 1) (0 turns it off)"),
            (self.pad >= 0 and self.cutout >= 0, "pad/cutout", ">= 0"),
            (self.val_size >= 0, "val_size", "a count >= 1, a fraction in (0, 1), or 0"),
            (self.image_size >= 0, "image_size", "> 0 (or 0 to keep the data's size)"),
        ]
        for ok, name, expected in checks:
            if not ok:
                value = getattr(self, name, None) if "/" not in name else None
                raise ConfigError(
                    f"recipe field {name} must be {expected}"
                    + (f", got {value!r}" if value is not None else "")
                    + f"; fix it with --set {name.split('/')[0]}=VALUE"
                )

    @property
    def total_steps_hint(self) -> str:
        """How the length is given, for messages ("30 epochs" / "64000 iterations")."""
        return f"{self.epochs} epochs" if self.epochs else f"{self.iterations} iterations"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (tuples become lists)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        return with_overrides(cls(), {k: v for k, v in data.items()}, pin=False)

    def with_length(self, *, epochs: int = 0, iterations: int = 0) -> Recipe:
        """A copy trained for ``epochs`` or ``iterations`` (the other is cleared)."""
        if epochs and iterations:
            raise ConfigError("give either epochs or iterations, not both")
        if epochs < 0 or iterations < 0 or not (epochs or iterations):
            bad = epochs if epochs <= 0 and not iterations else iterations
            raise ConfigError(f"the number of epochs/iterations must be >= 1, got {bad}")
        return replace(self, epochs=epochs, iterations=iterations)


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


HE2016 = Recipe(
    name="he2016",
    summary="He et al. 2016 (arXiv 1512.03385) sec. 4.2 CIFAR-10 recipe: SGD 0.1, /10 at 32k "
    "and 48k, stop at 64k iterations, 45k/5k split",
    lr=0.1,
    momentum=0.9,
    weight_decay=1e-4,
    batch_size=128,
    iterations=64000,
    schedule="step",
    milestones=(0.5, 0.75),
    gamma=0.1,
    warmup_lr=0.01,
    warmup_until_error=0.8,
    warmup_min_depth=110,
    pad=4,
    flip=True,
    val_size=5000,
)

FAST = Recipe(
    name="fast",
    summary="modern schedule fitted to the run's length (resnetlab.train.fit): Nesterov SGD, "
    "linear warm-up then linear decay, label smoothing, weight EMA, flip TTA",
    lr=0.2,
    momentum=0.9,
    nesterov=True,
    weight_decay=5e-4,
    decay_norm_and_bias=False,
    batch_size=0,
    epochs=30,
    iterations=0,
    schedule="linear",
    milestones=(),
    warmup_frac=0.2,
    label_smoothing=0.2,
    ema=0.99,
    tta_flip=True,
    pad=4,
    flip=True,
    val_size=0,
    adapt=True,
)

RECIPES: dict[str, Recipe] = {r.name: r for r in (HE2016, FAST)}


def get_recipe(name: str) -> Recipe:
    """The built-in recipe called ``name``; unknown names raise :class:`ConfigError`."""
    try:
        return RECIPES[name]
    except KeyError:
        raise ConfigError(
            f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)} "
            "(list them with 'resnetlab recipes')"
        ) from None


def field_names() -> list[str]:
    """Names of every recipe field, in declaration order."""
    return [f.name for f in fields(Recipe)]


def _coerce(name: str, raw: Any, annotation: Any) -> Any:
    """Convert ``raw`` (a CLI string or a JSON value) to the type of field ``name``."""
    hint = typing.get_type_hints(Recipe)[name] if annotation is None else annotation
    if not isinstance(raw, str):
        if hint is float and isinstance(raw, int) and not isinstance(raw, bool):
            return float(raw)
        if typing.get_origin(hint) is tuple:
            return tuple(_item_type(hint)(v) for v in raw)
        return raw
    text = raw.strip()
    try:
        if hint is bool:
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(text)
            return lowered in ("true", "1", "yes", "on")
        if hint is int:
            return int(float(text)) if float(text).is_integer() else int(text)
        if hint is float:
            return float(text)
        if typing.get_origin(hint) is tuple:
            parts = [p.strip() for p in text.strip("()[]").split(",") if p.strip()]
            return tuple(_item_type(hint)(p) for p in parts)
    except ValueError:
        raise ConfigError(
            f"recipe field {name} expects {getattr(hint, '__name__', hint)}, got {raw!r}; "
            f"e.g. --set {name}={_example(hint)}"
        ) from None
    return text


def _item_type(hint: Any) -> type:
    """``float`` for ``tuple[float, ...]``, ``str`` for ``tuple[str, ...]``."""
    return typing.get_args(hint)[0]


def _example(hint: Any) -> str:
    return {bool: "true", int: "10", float: "0.1", str: "value"}.get(hint, "0.5,0.75")


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """``["lr=0.1", "ema=0.99"]`` → ``{"lr": "0.1", "ema": "0.99"}``; malformed pairs raise."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects FIELD=VALUE, got {pair!r}; e.g. --set lr=0.05")
        out[key.strip()] = value
    return out


def with_overrides(recipe: Recipe, overrides: Mapping[str, Any], pin: bool = True) -> Recipe:
    """A copy of ``recipe`` with fields replaced; values may be strings (from the CLI).

    Unknown field names raise :class:`ConfigError` listing the valid ones. Setting ``epochs``
    clears ``iterations`` and vice versa, so the run length is never ambiguous. In an adaptive
    recipe the replaced fields are *pinned* (unless ``pin=False``): the length rules of
    :mod:`resnetlab.train.fit` leave them as given.
    """
    valid = field_names()
    unknown = [k for k in overrides if k not in valid]
    if unknown:
        raise ConfigError(
            f"unknown recipe field {unknown[0]!r}; valid fields: {', '.join(valid)}"
        )
    hints = typing.get_type_hints(Recipe)
    values = {k: _coerce(k, v, hints[k]) for k, v in overrides.items()}
    for key, other in (("epochs", "iterations"), ("iterations", "epochs")):
        if key in values and values[key] <= 0 and not values.get(other):
            raise ConfigError(f"recipe field {key} must be >= 1, got {values[key]}; "
                              f"fix it with --set {key}=N")
    if values.get("epochs") and "iterations" not in values:
        values["iterations"] = 0
    if values.get("iterations") and "epochs" not in values:
        values["epochs"] = 0
    if pin and "pinned" not in values:
        meta = ("name", "summary", "adapt", "pinned", "epochs", "iterations")
        new = [k for k in values if k not in meta and k not in recipe.pinned]
        if new:
            values["pinned"] = tuple(recipe.pinned) + tuple(new)
    try:
        return replace(recipe, **values)
    except TypeError as exc:  # a value of a type replace() cannot take
        raise ConfigError(f"bad recipe override: {exc}") from None


def describe(recipe: Recipe) -> list[tuple[str, str]]:
    """``(field, value)`` rows for printing a recipe."""
    return [(f.name, repr(getattr(recipe, f.name))) for f in dataclasses.fields(recipe)]


def resolve_recipe(recipe: str | Recipe, overrides: dict[str, Any] | None = None,
                   epochs: int | None = None, batch_size: int | None = None) -> Recipe:
    """A recipe by name or value, with ``--set`` overrides and the common flags applied."""
    r = get_recipe(recipe) if isinstance(recipe, str) else recipe
    changes = dict(overrides or {})
    if epochs is not None:
        if int(epochs) < 1:
            raise ConfigError(f"--epochs must be >= 1, got {epochs}")
        changes["epochs"] = int(epochs)
    if batch_size is not None:
        if int(batch_size) < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
        changes["batch_size"] = int(batch_size)
    return with_overrides(r, changes) if changes else r
