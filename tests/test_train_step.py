"""The one training step, the one step timer, and the loop's host reads: none between log
points, some at each, and a diverged run stopped within one log interval."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from resnetlab.data import load
from resnetlab.models import create_model
from resnetlab.train import TrainingDiverged, train
from resnetlab.train import trainer as trainer_mod
from resnetlab.train.checkpoint import load_checkpoint
from resnetlab.train.ema import ModelEma
from resnetlab.train.step import train_step
from resnetlab.train.timer import StepTimer
from resnetlab.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")

# The Tensor methods that copy a value to the host: on a GPU each waits for the device.
HOST_READS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__",
              "__complex__")


def tiny(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create_model("resnet20", depth=8, widths=(8, 16, 32), stem_width=8, num_classes=10,
                        in_chans=1)


@pytest.fixture(scope="module")
def digits():
    return load("digits", image_size=8)


@pytest.fixture
def host_reads(monkeypatch) -> dict[str, int]:
    """Counts every host read of a tensor (on this CPU-only machine every tensor is on the
    training device, so every read counts)."""
    reads = {"n": 0}
    for name in HOST_READS:
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _original=original, **kwargs):
            reads["n"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    return reads


def _record_events(monkeypatch, reads: dict[str, int]) -> list[tuple]:
    """``("step", reads)`` at the start of every step, ``("read", pending, before, after)``
    around every read point of the loop."""
    events: list[tuple] = []
    step, collect = Trainer.train_step, Trainer.collect

    def recording_step(self, *args):
        events.append(("step", reads["n"]))
        return step(self, *args)

    def recording_collect(self):
        pending, before = len(self.pending), reads["n"]
        collect(self)
        events.append(("read", pending, before, reads["n"]))

    monkeypatch.setattr(Trainer, "train_step", recording_step)
    monkeypatch.setattr(Trainer, "collect", recording_collect)
    return events


@pytest.mark.parametrize("recipe, overrides", [
    ("fast", {"ema": 0.9}),  # EMA on
    ("he2016", {"warmup_min_depth": 0, "ema": 0.9}),  # the error warm-up reads per window
], ids=["fast-ema", "he2016-warmup"])
def test_no_host_sync_between_log_points(tmp_path, digits, monkeypatch, host_reads,
                                         recipe, overrides):
    monkeypatch.setattr(trainer_mod, "LOG_EVERY", 7)
    events = _record_events(monkeypatch, host_reads)
    run = train(tiny(), digits, recipe, tmp_path / "run", epochs=2, batch_size=64,
                overrides=overrides, quiet=True, checkpoint_seconds=0)
    steps = [e for e in events if e[0] == "step"]
    assert len(steps) == run.metrics["steps"] == 44
    quiet = 0
    for before, after in zip(events, events[1:], strict=False):
        if before[0] == "step":
            # From the start of a step to the next step or read point: the step itself, the
            # loop's bookkeeping and the next batch read nothing on the host.
            start = after[1] if after[0] == "step" else after[2]
            assert start == before[1], f"host read between log points after {before}"
            quiet += 1
    reads = [e for e in events if e[0] == "read" and e[1] > 0]
    assert all(after > before for _, _, before, after in reads)  # each read point reads
    assert sum(e[1] for e in reads) == 44 and quiet == 44
    assert len(reads) > 2 * 2  # log points inside the epochs, not only the epoch ends


@pytest.mark.parametrize("checkpoint_steps", [0, 3])  # 3: a checkpoint is due right after
def test_divergence_stops_within_one_log_interval_and_keeps_the_good_checkpoint(
        tmp_path, digits, monkeypatch, checkpoint_steps):
    finite: list[bool] = []
    step = Trainer.train_step

    def watching_step(self, *args):
        stats = step(self, *args)
        finite.append(math.isfinite(float(stats.loss)))
        return stats

    monkeypatch.setattr(Trainer, "train_step", watching_step)
    with pytest.raises(TrainingDiverged) as exc:
        train(tiny(), digits, "fast", tmp_path / "run", epochs=2, batch_size=64, quiet=True,
              overrides={"lr": 1e12, "warmup_frac": 0, "ema": 0}, checkpoint_steps=checkpoint_steps)
    first_bad = finite.index(False)
    assert f"step {first_bad + 1} " in str(exc.value)  # the first bad step, not the read's
    assert len(finite) - first_bad <= trainer_mod.LOG_EVERY
    # The checkpoint kept was written before the first non-finite loss (with a checkpoint
    # due at every third step, the read before the save caught it).
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] <= first_bad


def test_the_step_is_label_smoothed_sgd_then_an_ema_update():
    x, y = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(1)), torch.arange(8)
    a, b = tiny(), tiny()
    opt_a, opt_b = (torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (a, b))
    ema = ModelEma(a, 0.5)
    loss, correct = train_step(a, opt_a, x, y, label_smoothing=0.2, ema=ema)
    logits = b(x)
    expected = F.cross_entropy(logits, y, label_smoothing=0.2)
    expected.backward()
    opt_b.step()
    assert torch.equal(loss, expected.detach()) and loss.requires_grad is False
    assert int(correct) == int((logits.argmax(1) == y).sum())
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert ema.updates == 1 and not torch.equal(next(ema.module.parameters()),
                                                next(a.parameters()))


def test_ema_update_reads_nothing_on_the_host(host_reads):
    model = tiny()
    ema = ModelEma(model, 0.99)
    ema.update(model)
    assert host_reads["n"] == 0


def test_averaged_model_reads_its_counter_on_the_host_every_update(host_reads):
    """Why train/ema.py keeps ModelEma: if this fails, torch no longer reads on the host and
    AveragedModel could replace it (see the module's docstring)."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    model = tiny()
    averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.99), use_buffers=True)
    averaged.update_parameters(model)
    before = host_reads["n"]
    averaged.update_parameters(model)
    assert host_reads["n"] - before >= 2


def test_step_timer_waits_for_cuda_only_when_it_reads(monkeypatch):
    waits: list[object] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: waits.append(device))
    timer = StepTimer(torch.device("cuda"))
    assert timer.time(lambda: waits.append("work")) >= 0
    assert waits == [torch.device("cuda"), "work", torch.device("cuda")]
    waits.clear()
    StepTimer(torch.device("cpu")).per_call(lambda: None, 0.0)
    assert waits == []
