"""Distributed training pieces that run in this one process: rank-invariant batches, the batch
split rule, the no-op single-process path, restart decisions, the reduced evaluation and the
CPU SyncBatchNorm (multi-process behaviour: tests/test_distributed_torchrun.py)."""

from __future__ import annotations

import json

import pytest
import torch
import torch.distributed as dist
from torch import nn

from resnetlab.data import Augment, ImageDataset, InMemoryLoader
from resnetlab.errors import ConfigError
from resnetlab.train.distributed import Dist, restart_action
from resnetlab.train.evaluate import metrics_from_logits
from resnetlab.train.sync_batchnorm import CpuSyncBatchNorm, convert_sync_batchnorm


def _dataset(n: int = 203) -> ImageDataset:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8, generator=generator)
    return ImageDataset(images, torch.arange(n) % 10, [str(i) for i in range(10)],
                        (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "random")


@pytest.mark.parametrize("world_size", [2, 4])
def test_rank_batches_are_the_rows_of_the_one_process_augmented_batch(world_size):
    ds, augment = _dataset(), Augment(pad=2, flip=True, cutout=3)
    one = InMemoryLoader(ds, 8 * world_size, shuffle=True, drop_last=True, seed=5,
                         augment=augment)
    ranks = [InMemoryLoader(ds, 8, shuffle=True, drop_last=True, seed=5, augment=augment,
                            rank=r, world_size=world_size) for r in range(world_size)]
    assert {len(loader) for loader in ranks} == {len(one)}
    for b, (x, y) in enumerate(one.iter_from(3, 1), start=1):
        for r, loader in enumerate(ranks):
            xr, yr = next(iter(loader.iter_from(3, b)))
            assert torch.equal(xr, x[r::world_size]) and torch.equal(yr, y[r::world_size])


def test_single_process_loader_batches_are_unchanged_by_the_rank_invariant_path():
    ds, augment = _dataset(), Augment(pad=2, flip=True, cutout=3)
    a = InMemoryLoader(ds, 16, shuffle=True, drop_last=True, seed=5, augment=augment)
    b = InMemoryLoader(ds, 16, shuffle=True, drop_last=True, seed=5, augment=augment).shard(0, 1)
    assert all(torch.equal(xa, xb) for (xa, _), (xb, _) in zip(a, b, strict=True))


def test_a_batch_the_ranks_cannot_share_evenly_is_a_one_line_config_error():
    with pytest.raises(ConfigError) as err:
        Dist(rank=0, world_size=3).local_batch_size(64)
    message = str(err.value)
    assert "\n" not in message and "--batch-size" in message and "63 or 66" in message
    assert Dist(rank=1, world_size=4).local_batch_size(64) == 16


def test_one_process_dist_changes_nothing():
    d = Dist()
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    assert d.prepare(model, sync_bn=True) == (model, model)
    assert d.batch_stats(torch.tensor(0.5), 3, 8) == (0.5, 3, 8)
    assert d.on_main(lambda: 42) == 42 and d.broadcast("x") == "x" and d.maximum(2.5) == 2.5
    ds = _dataset(11)
    assert d.shard(ds) is ds
    logits, labels = torch.randn(11, 10), ds.labels
    assert d.evaluation(logits, labels, ds.classes).to_dict() == metrics_from_logits(
        logits, labels, ds.classes).to_dict()


@pytest.fixture
def gloo_world_of_one(tmp_path):
    """A real gloo process group with this process alone, so reductions run for real."""
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.usefixtures("gloo_world_of_one")
def test_reduced_evaluation_of_the_shards_equals_evaluating_the_whole_set():
    ds = _dataset(37)
    logits = torch.randn(37, 10, generator=torch.Generator().manual_seed(1))
    whole = metrics_from_logits(logits, ds.labels, ds.classes)
    # As rank 0 of 2 whose partner holds nothing, the reduction sees every image once.
    reduced = Dist(rank=0, world_size=2, device=torch.device("cpu")).evaluation(
        logits, ds.labels, ds.classes)
    assert reduced.n == whole.n and torch.equal(reduced.confusion, whole.confusion)
    assert reduced.top1 == pytest.approx(whole.top1) and reduced.top5 == pytest.approx(whole.top5)
    assert reduced.loss == pytest.approx(whole.loss) and reduced.per_class == whole.per_class
    empty = Dist(rank=1, world_size=2, device=torch.device("cpu")).evaluation(
        torch.empty(0), ds.labels[:0], ds.classes)
    assert empty.n == 0  # a rank with an empty shard still takes part


def test_evaluation_shards_cover_the_set_exactly_once():
    ds = _dataset(11)
    parts = [Dist(rank=r, world_size=4).shard(ds) for r in range(4)]
    assert torch.equal(torch.cat([p.images for p in parts]), ds.images)


def test_cpu_sync_batchnorm_is_plain_batchnorm_in_one_process_and_keeps_the_state():
    torch.manual_seed(0)
    reference = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    model = convert_sync_batchnorm(
        nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()), torch.device("cpu"))
    model.load_state_dict(reference.state_dict())
    assert isinstance(model[1], CpuSyncBatchNorm)
    assert model.state_dict().keys() == reference.state_dict().keys()
    x = torch.randn(6, 3, 8, 8)
    for mode in (True, False):
        reference.train(mode)
        model.train(mode)
        assert torch.allclose(model(x), reference(x), atol=1e-6)
    assert torch.allclose(model[1].running_var, reference[1].running_var)


def test_converting_keeps_the_parameters_the_optimizer_holds():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    before = [id(p) for p in model.parameters()]
    converted = convert_sync_batchnorm(model, torch.device("cpu"))
    assert [id(p) for p in converted.parameters()] == before
    assert isinstance(convert_sync_batchnorm(nn.BatchNorm1d(3), torch.device("cpu")),
                      CpuSyncBatchNorm)


# ------------------------------------------------------------------ restarts
def _run_dir(tmp_path, run_id: str | None, checkpoint: bool = True):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"elastic_run_id": run_id}))
    if checkpoint:
        (run / "checkpoints" / "last.pt").write_bytes(b"x")
    return run


@pytest.fixture
def restarted(monkeypatch):
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job-1")


def test_a_first_start_never_adopts_an_existing_run(tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHELASTIC_RESTART_COUNT", raising=False)
    assert restart_action(_run_dir(tmp_path, "job-1"), resume_if_exists=False) == "new"


def test_resume_if_exists_continues_any_run_with_a_checkpoint(tmp_path):
    assert restart_action(_run_dir(tmp_path, None), resume_if_exists=True) == "resume"
    assert restart_action(tmp_path / "absent", resume_if_exists=True) == "new"


@pytest.mark.usefixtures("restarted")
def test_a_restart_resumes_the_run_its_own_job_started(tmp_path):
    assert restart_action(_run_dir(tmp_path, "job-1"), resume_if_exists=False) == "resume"


@pytest.mark.usefixtures("restarted")
def test_a_restart_replaces_its_own_start_that_died_before_a_checkpoint(tmp_path):
    run = _run_dir(tmp_path, "job-1", checkpoint=False)
    assert restart_action(run, resume_if_exists=False) == "replace"


@pytest.mark.usefixtures("restarted")
def test_a_restart_leaves_a_run_of_another_job_alone(tmp_path):
    assert restart_action(_run_dir(tmp_path, "job-0"), resume_if_exists=False) == "new"


def test_max_restarts_without_a_run_directory_is_a_config_error(monkeypatch):
    monkeypatch.setenv("TORCHELASTIC_MAX_RESTARTS", "2")
    with pytest.raises(ConfigError, match="--out RUN_DIR"):
        restart_action(None, resume_if_exists=False)


def test_resume_if_exists_without_a_run_directory_is_a_config_error():
    with pytest.raises(ConfigError, match="--out RUN_DIR"):
        restart_action(None, resume_if_exists=True)
