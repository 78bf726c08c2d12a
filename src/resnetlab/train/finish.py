"""The end of a training run: final evaluation, the saved model and the curves."""

from __future__ import annotations

from typing import Any

from resnetlab.models.hub.format import model_spec
from resnetlab.models.hub.weights import save_weights


def finish_run(trainer, name: str, data_spec: dict[str, Any]) -> dict[str, Any]:
    """End of a training run (``trainer`` is a :class:`~resnetlab.train.trainer.Trainer`):
    final evaluation (with flip TTA if the recipe asks), ``model.safetensors`` +
    ``model.json`` and ``curves.png`` on the main process; returns the final metrics."""
    from resnetlab.train.plots import plot_curves  # matplotlib (~0.5 s): only needed at the end

    recipe, bundle = trainer.fitted, trainer.bundle
    final = trainer.evaluate_split(bundle.test, tta=recipe.tta_flip)
    last = trainer.history[-1] if trainer.history else {}
    metrics: dict[str, Any] = {
        "test_top1": final.top1, "test_top5": final.top5, "test_loss": final.loss,
        "test_n": final.n, "tta_flip": recipe.tta_flip, "test_top1_no_tta": last.get("test_acc"),
        "val_top1": last.get("val_acc"), "train_loss": last.get("train_loss"),
        "epochs": trainer.plan.epochs, "steps": trainer.step,
        "plan": trainer.plan.source, "train_seconds": trainer.elapsed,
        "ema": recipe.ema > 0, "budget_seconds": trainer.plan.budget_seconds or None,
        "replans": trainer.plan.replans, "segments": trainer.plan.segment + 1,
    }
    if not trainer.dist.is_main:
        return metrics
    spec = model_spec(trainer.model)
    train_ds = bundle.train
    save_weights(trainer.eval_model, trainer.run_dir, {
        "model": spec["name"] or name, "model_kwargs": spec["kwargs"],
        "num_classes": bundle.num_classes, "in_chans": bundle.input_size[0],
        "input_size": list(bundle.input_size), "classes": list(bundle.classes),
        "mean": list(train_ds.mean), "std": list(train_ds.std), "data": data_spec,
        "recipe": recipe.to_dict(), "declared_recipe": trainer.recipe.to_dict(),
        "seed": trainer.seed, "metrics": metrics,
    })
    plot_curves(trainer.history, trainer.run_dir / "curves.png",
                title=f"{name} on {bundle.name} ({recipe.name})")
    return metrics
