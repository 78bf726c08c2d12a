"""The training loop through the Python API: learning, run directory, checkpoints, budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from resnetlab.data import DataBundle, load
from resnetlab.errors import CheckpointError, ConfigError
from resnetlab.models import create_model
from resnetlab.train import TrainingDiverged, evaluate, train
from resnetlab.train.checkpoint import load_checkpoint
from resnetlab.train.trainer import Trainer

CIFAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-subset"


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(in_chans: int = 1, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create_model("resnet20", depth=8, widths=(8, 16, 32), stem_width=8, num_classes=10,
                        in_chans=in_chans)


@pytest.fixture(scope="module")
def digits():
    return load("digits", image_size=8)


def _fast(**kw):
    base = dict(recipe="fast", epochs=2, batch_size=64, quiet=True)
    return {**base, **kw}


@pytest.mark.skipif(not CIFAR.is_dir(), reason="shared CIFAR-10 subset not available")
def test_tiny_resnet_lowers_its_loss_on_256_cifar_images(tmp_path):
    full = load("cifar10", CIFAR)
    train_slice = full.train.subset(slice(0, 256))
    bundle = DataBundle("cifar10", train=train_slice, test=full.test.subset(slice(0, 256)))
    model = tiny(in_chans=3)
    before = evaluate(model, train_slice).loss
    run = train(model, bundle, out_dir=tmp_path / "run",
                **_fast(epochs=6, batch_size=32, overrides={"ema": 0, "lr": 0.05}))
    after = evaluate(run.run_dir, train_slice, tta_flip=False).loss
    assert after < before
    assert run.history[-1]["train_loss"] < run.history[0]["train_loss"]


def test_run_directory_has_every_artifact(tmp_path, digits):
    run = train(tiny(), digits, out_dir=tmp_path / "run", **_fast())
    d = run.run_dir
    for name in ("config.json", "metrics.csv", "curves.png", "model.safetensors", "model.json",
                 "checkpoints/last.pt", "checkpoints/best.pt"):
        assert (d / name).is_file(), name
    assert any((d / "tensorboard").glob("events.out.tfevents.*"))
    meta = json.loads((d / "model.json").read_text())
    assert meta["model"] == "resnet20" and meta["num_classes"] == 10
    assert meta["input_size"] == [1, 8, 8] and meta["in_chans"] == 1
    assert meta["classes"] == digits.classes and len(meta["mean"]) == 1
    assert meta["recipe"]["name"] == "fast" and meta["metrics"]["test_top1"] == run.metrics[
        "test_top1"]
    assert len((d / "metrics.csv").read_text().splitlines()) == 1 + 2
    assert run.final == d / "model.safetensors" and run.best == d / "checkpoints" / "best.pt"


def test_saved_model_reproduces_the_reported_accuracy(tmp_path, digits):
    run = train(tiny(), digits, out_dir=tmp_path / "run", **_fast())
    assert evaluate(run.run_dir, digits.test).top1 == pytest.approx(run.metrics["test_top1"])


def test_checkpoint_is_complete_and_loads_with_weights_only(tmp_path, digits):
    run = train(tiny(), digits, out_dir=tmp_path / "run", **_fast())
    state = torch.load(run.last, weights_only=True)
    for key in ("model", "optimizer", "ema", "step", "epoch", "plan", "rng", "history"):
        assert key in state, key
    assert set(state["rng"]) >= {"python", "numpy", "torch"}
    assert state["step"] == state["plan"]["total_steps"]


def test_interrupted_run_resumes_to_identical_weights(tmp_path, digits, monkeypatch):
    kw = _fast(overrides={"ema": 0.9})
    train(tiny(), digits, out_dir=tmp_path / "a", **kw)
    original = Trainer.train_step
    calls = {"n": 0}

    def dying_step(self, *args):
        calls["n"] += 1
        if calls["n"] == 31:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(Trainer, "train_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        train(tiny(), digits, out_dir=tmp_path / "b", checkpoint_steps=4, **kw)
    monkeypatch.setattr(Trainer, "train_step", original)
    assert load_checkpoint(tmp_path / "b" / "checkpoints" / "last.pt")["step"] == 28
    train(tiny(seed=123), digits, out_dir=tmp_path / "b", resume=True, **kw)
    a = load_file(tmp_path / "a" / "model.safetensors")
    b = load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "a" / "metrics.csv").read_text().splitlines()[1].split(",")[:9] == (
        tmp_path / "b" / "metrics.csv").read_text().splitlines()[1].split(",")[:9]


def test_existing_run_dir_is_not_overwritten_without_permission(tmp_path, digits):
    run = train(tiny(), digits, out_dir=tmp_path / "run", **_fast(epochs=1))
    before = run.final.read_bytes()
    with pytest.raises(ConfigError, match="--overwrite"):
        train(tiny(), digits, out_dir=run.run_dir, **_fast(epochs=1))
    assert run.final.read_bytes() == before


def test_overwrite_refuses_a_directory_that_is_not_a_run(tmp_path, digits):
    (tmp_path / "notes.txt").write_text("precious")
    with pytest.raises(ConfigError, match="does not look like a resnetlab run"):
        train(tiny(), digits, out_dir=tmp_path, overwrite=True, **_fast(epochs=1))
    assert (tmp_path / "notes.txt").read_text() == "precious"


def test_nan_loss_stops_with_diagnosis_and_keeps_last_checkpoint(tmp_path, digits):
    with pytest.raises(TrainingDiverged) as exc:
        train(tiny(), digits, out_dir=tmp_path / "run",
              **_fast(overrides={"lr": 1e12, "warmup_frac": 0, "ema": 0}))
    msg = str(exc.value)
    assert "epoch" in msg and "step" in msg and "lr" in msg and "\n" not in msg
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] >= 0


def test_time_budget_fixes_the_step_count_in_the_checkpoint(tmp_path, digits):
    run = train(tiny(), digits, out_dir=tmp_path / "run", time_budget=8,
                **{k: v for k, v in _fast().items() if k != "epochs"})
    state = load_checkpoint(run.last)
    plan = state["plan"]
    assert plan["source"] == "budget" and plan["total_steps"] == run.metrics["steps"] >= 1
    # the budget set the length (not the recipe), and the run trained all of it
    assert plan["budget_seconds"] == 8 and state["step"] == plan["total_steps"]
    assert run.history[-1]["step"] == plan["total_steps"]


def test_corrupt_checkpoint_raises_checkpoint_error(tmp_path):
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(bad)


def test_zero_epochs_and_batch_size_are_rejected(tmp_path, digits):
    with pytest.raises(ConfigError, match="epochs"):
        train(tiny(), digits, out_dir=tmp_path / "a", **_fast(epochs=0))
    with pytest.raises(ConfigError, match="batch"):
        train(tiny(), digits, out_dir=tmp_path / "b", **_fast(batch_size=-1))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_epochs_with_a_budget_trains_whichever_is_shorter(tmp_path, digits):
    run = train(tiny(), digits, out_dir=tmp_path / "run", time_budget=60, **_fast(epochs=1))
    plan = load_checkpoint(run.last)["plan"]
    # a budgeted plan capped at the epochs asked for: the budget could fit far more
    assert plan["cap_steps"] == plan["total_steps"] == plan["steps_per_epoch"]


def test_compiled_training_learns_and_saves_plain_parameter_names(tmp_path, digits):
    from resnetlab.bench.machine import cxx_compiler

    if cxx_compiler() is None:
        with pytest.raises(ConfigError, match="C\\+\\+ compiler"):
            train(tiny(), digits, out_dir=tmp_path / "run", compile=True, **_fast(epochs=1))
        return
    plain = train(tiny(), digits, out_dir=tmp_path / "plain", precision="fp32", **_fast())
    run = train(tiny(), digits, out_dir=tmp_path / "run", precision="fp32", compile=True,
                **_fast())
    saved = load_file(run.run_dir / "model.safetensors")
    assert not any("_orig_mod" in k for k in saved)
    assert set(saved) == set(load_file(plain.run_dir / "model.safetensors"))
    assert run.history[-1]["train_loss"] < run.history[0]["train_loss"]
    assert json.loads((run.run_dir / "config.json").read_text())["compile"] is True
    # Same seed, same data: compiled kernels round differently, but the run learns alike.
    assert abs(run.metrics["test_top1"] - plain.metrics["test_top1"]) < 0.1
