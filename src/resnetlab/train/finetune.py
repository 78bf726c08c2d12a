"""Transfer learning: a pretrained backbone, a new classifier, two calls of :func:`train`.

Phase 1 ("head") trains only the fresh classifier: every other parameter has
``requires_grad=False`` and every BatchNorm outside the head has ``momentum=0`` so that its
running statistics do not move either. Phase 2 ("full") unfreezes everything with
discriminative learning rates: a parameter ``d`` stages away from the head trains at
``lr * lr_decay ** d`` (head: d=0, last stage: 1, ..., stem: number of stages + 1), the
idea of Howard & Ruder 2018 (ULMFiT, sec. 3.2): early layers hold generic features that
need less change. Both phases are ordinary run directories inside the fine-tune directory::

    OUT/finetune.json        settings, to resume with finetune(..., resume=True)
    OUT/head/                phase 1 run (skipped when freeze_epochs == 0)
    OUT/full/                phase 2 run
    OUT/model.safetensors    the result (+ model.json): eval, predict and export take OUT
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from torch import nn

from resnetlab.data import load
from resnetlab.errors import CheckpointError, ConfigError
from resnetlab.files import atomic_write_files, atomic_write_text
from resnetlab.models.factory import create_model
from resnetlab.models.hub.format import META, WEIGHTS, is_saved_model, locate, read_meta
from resnetlab.models.hub.weights import WeightsSource, load_weights
from resnetlab.train.distributed import is_main_process
from resnetlab.train.lock import RunLock
from resnetlab.train.loop import train
from resnetlab.train.recipes import Recipe
from resnetlab.train.rundir import Run, prepare_new_run_dir, removed_on_failure

SETTINGS = "finetune.json"
_STAGE = re.compile(r"^(?:layer|stage|stages\.)(\d+)")


def classifier_prefix(model: nn.Module) -> str:
    """The state-dict prefix of the classifier (``"fc."`` for resnetlab's ResNets)."""
    head = model.get_classifier() if hasattr(model, "get_classifier") else model.fc
    for name, module in model.named_modules():
        if module is head:
            return name + "."
    raise ConfigError("cannot find the model's classifier; fine-tune a resnetlab model")


def stage_distances(model: nn.Module) -> dict[str, int]:
    """Parameter name -> stages between it and the head (0 head, 1 last stage, ... stem)."""
    head = classifier_prefix(model)
    stages = {int(m.group(1)) for n, _ in model.named_parameters() if (m := _STAGE.match(n))}
    last = max(stages, default=0)
    out = {}
    for name, _ in model.named_parameters():
        m = _STAGE.match(name)
        if name.startswith(head):
            out[name] = 0
        elif m:
            out[name] = last - int(m.group(1)) + 1
        else:  # the stem (and anything else before the stages)
            out[name] = last + 1
    return out


def freeze_backbone(model: nn.Module) -> None:
    """Train the classifier only: no gradients and frozen BatchNorm statistics elsewhere."""
    head = classifier_prefix(model)
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(head))
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not (name + ".").startswith(
                head):
            module.momentum = 0.0  # running stats = (1 - 0) * running + 0 * batch


def discriminative_lr(model: nn.Module, lr_decay: float) -> dict[str, float]:
    """Parameter name -> lr factor ``lr_decay ** distance``: the ``lr_scales`` that
    :func:`train` passes to :func:`resnetlab.train.optim.param_groups`."""
    if not 0 < lr_decay <= 1:
        raise ConfigError(f"--lr-decay must be in (0, 1], got {lr_decay:g}")
    return {n: lr_decay ** d for n, d in stage_distances(model).items()}


def pretrained_spec(weights: str | Path) -> dict[str, Any] | None:
    """``{"name", "kwargs"}`` of a saved model (run dir, model.json beside the weights), or None
    for raw weights (a ``.pth``, URL or published tag), whose architecture ``--model`` names."""
    if not is_saved_model(weights):
        return None
    spec = read_meta(locate(weights)[1])
    kwargs = {k: v for k, v in (spec.get("model_kwargs") or {}).items() if k != "num_classes"}
    return {"name": spec.get("model"), "kwargs": kwargs}


def build_pretrained(model_name: str, model_kwargs: dict[str, Any], weights: WeightsSource,
                     num_classes: int) -> nn.Module:
    """``model_name`` with the backbone of ``weights`` and a ``num_classes`` classifier (fresh
    unless the file's fits): :func:`load_weights` with ``new_head=True``, as ``--weights``
    everywhere."""
    model = create_model(model_name, num_classes=num_classes, **model_kwargs)
    load_weights(model, weights, new_head=True)
    return model


def _source_text(weights: WeightsSource) -> str:
    """What finetune.json records: an absolute path for a local file, else the URL or tag."""
    path = Path(str(weights)).expanduser()
    return str(path.resolve()) if path.exists() else str(weights)


def finetune(model_name: str | None, weights: str | Path, bundle, recipe: Recipe,
             out_dir: str | Path, *, epochs: int, freeze_epochs: int = 1,
             lr_decay: float = 0.5, model_kwargs: dict[str, Any] | None = None,
             data_spec: dict[str, Any] | None = None, seed: int = 0, overwrite: bool = False,
             resume: bool = False, quiet: bool = False, time_budget: float | None = None,
             **train_kwargs: Any) -> Run:
    """Fine-tune pretrained ``weights`` on ``bundle``; returns the full phase's :class:`Run`.

    ``model_name`` defaults to the one in the model.json beside ``weights``. ``recipe`` (with
    its lr) is used by both phases, ``freeze_epochs`` for the head alone, ``epochs`` for the
    whole network. ``resume=True`` continues ``out_dir`` where it stopped (its phase and
    step); ``train_kwargs`` go to :func:`train` (device, precision, checkpoint_seconds...).
    ``time_budget`` (seconds) is shared by the phases in proportion to their epochs; each takes
    its epochs or as many steps as fit its share, whichever is fewer.
    """
    out = Path(out_dir)
    if epochs < 1 or freeze_epochs < 0:
        raise ConfigError(f"need --epochs >= 1 and --freeze-epochs >= 0, got {epochs} and "
                          f"{freeze_epochs}")
    if time_budget is not None and time_budget <= 0:
        raise ConfigError(f"--time-budget must be > 0 seconds, got {time_budget:g}")
    main = is_main_process()  # under torchrun, rank 0 alone holds the lock
    if resume:
        with RunLock(out, held=main):
            return _run(model_name, weights, bundle, recipe, out, None, epochs, freeze_epochs,
                        lr_decay, model_kwargs or {}, data_spec, seed, quiet, time_budget,
                        train_kwargs)
    spec = pretrained_spec(weights) or {}
    model_name = model_name or spec.get("name")
    if not model_name:
        raise ConfigError(f"{weights} carries no model.json; say which architecture it is "
                          "with --model NAME")
    if model_kwargs is None:
        model_kwargs = spec.get("kwargs", {}) if spec.get("name") == model_name else {}
    # weights that cannot be read (offline, corrupt) or do not fit fail before any file
    # is written, so a corrected command needs no --overwrite
    first = build_pretrained(model_name, model_kwargs, weights, bundle.num_classes)
    created = main and not out.exists()
    lock = RunLock(out, held=main)
    try:
        # a start that fails before the first checkpoint (batch too large...) leaves no --out
        with removed_on_failure(out, created):
            if main:  # under torchrun rank 0 alone touches the file system
                prepare_new_run_dir(out, overwrite)
                lock.acquire()
                atomic_write_text(out / SETTINGS, json.dumps({
                    "model": model_name, "model_kwargs": model_kwargs,
                    "weights": _source_text(weights),
                    "epochs": epochs, "freeze_epochs": freeze_epochs, "lr_decay": lr_decay,
                    "seed": seed, "recipe": recipe.to_dict(), "data": data_spec,
                    "time_budget": time_budget}, indent=2) + "\n")
            return _run(model_name, weights, bundle, recipe, out, first, epochs, freeze_epochs,
                        lr_decay, model_kwargs, data_spec, seed, quiet, time_budget,
                        train_kwargs)
    finally:
        lock.release()


def _run(model_name: str, weights: WeightsSource, bundle, recipe: Recipe, out: Path,
         first: nn.Module | None, epochs: int, freeze_epochs: int, lr_decay: float,
         model_kwargs: dict[str, Any], data_spec: dict[str, Any] | None, seed: int,
         quiet: bool, time_budget: float | None, train_kwargs: dict[str, Any]) -> Run:
    """The two phases of :func:`finetune` in ``out`` (locked); ``first`` is the model of a
    new fine-tune's first phase (already built and checked)."""
    common = dict(seed=seed, quiet=quiet, data_spec=data_spec, **train_kwargs)
    # fixed shares, not "what is left": a phase started after a resume gets the same budget
    share = (None, None) if time_budget is None else (
        time_budget * freeze_epochs / (freeze_epochs + epochs),
        time_budget * epochs / (freeze_epochs + epochs))
    if freeze_epochs:
        model = first or build_pretrained(model_name, model_kwargs, weights, bundle.num_classes)
        first = None
        freeze_backbone(model)
        _phase(model, bundle, recipe.with_length(epochs=freeze_epochs), out / "head", common,
               share[0])
    model = first or build_pretrained(model_name, model_kwargs, weights, bundle.num_classes)
    if freeze_epochs:  # the trained head (and the untouched backbone) of phase 1
        load_weights(model, out / "head" / WEIGHTS)
    full = {**common, "lr_scales": discriminative_lr(model, lr_decay)}
    run = _phase(model, bundle, recipe.with_length(epochs=epochs), out / "full", full, share[1])
    if is_main_process():  # through atomic writes: a full disk is one line, no torn copy
        copies = {out / name: (run.run_dir / name).read_bytes() for name in (WEIGHTS, META)}
        atomic_write_files({path: (lambda fh, data=data: fh.write(data))
                            for path, data in copies.items()})
    return run


def _phase(model: nn.Module, bundle, recipe: Recipe, run_dir: Path, common: dict,
           budget: float | None = None) -> Run:
    """Run (or finish, or skip when finished) one phase in ``run_dir``; a new phase with a
    ``budget`` takes its epochs or what fits the budget, whichever is fewer."""
    if (run_dir / META).is_file():
        meta = json.loads((run_dir / META).read_text())
        return Run(run_dir=run_dir, final=run_dir / WEIGHTS, best=None,
                   last=run_dir / "checkpoints" / "last.pt", metrics=meta.get("metrics", {}))
    resume = (run_dir / "checkpoints" / "last.pt").is_file()
    # a resumed phase has its plan in its checkpoint
    length = {"time_budget": budget, "epochs": recipe.epochs} if budget and not resume else {}
    return train(model, bundle, recipe, run_dir, resume=resume, overwrite=not resume, **common,
                 **length)


def load_data(spec: dict[str, Any], seed: int = 0):
    """The bundle of a fine-tune's data spec: ``name``, ``root`` and for a folder ``val_dir``
    or ``val_size`` (a stratified split of the training images), and ``strict`` (stop at the
    first unreadable image instead of skipping it)."""
    val_dir = spec.get("val_dir")
    return load(spec["name"], spec.get("root"), val_dir=val_dir,
                val_size=0 if val_dir else spec.get("val_size", 0),
                image_size=spec.get("image_size"), seed=seed,
                strict=bool(spec.get("strict", False)))


def resume_finetune(out_dir: str | Path, **kwargs: Any) -> Run:
    """Continue the fine-tune in ``out_dir`` with the settings of its finetune.json."""
    path = Path(out_dir) / SETTINGS
    if not path.is_file():
        raise CheckpointError(f"cannot resume: {out_dir} has no {SETTINGS}; it is not a "
                              "fine-tune directory")
    s = json.loads(path.read_text())
    bundle = load_data(s["data"], s["seed"])
    return finetune(s["model"], s["weights"], bundle, Recipe.from_dict(s["recipe"]), out_dir,
                    epochs=s["epochs"], freeze_epochs=s["freeze_epochs"],
                    lr_decay=s["lr_decay"], model_kwargs=s["model_kwargs"], seed=s["seed"],
                    data_spec=s["data"], resume=True,
                    **{"time_budget": s.get("time_budget"), **kwargs})
