"""The benchmark's parts: alternating timing, memory peaks, paths and engines."""

from __future__ import annotations

import sys

import pytest
import torch

from resnetlab.bench import (
    STOCK,
    Stats,
    alternate,
    bench_step,
    build_engine,
    resnetlab_path,
    speedup,
)
from resnetlab.bench.memory import peak_call_bytes
from resnetlab.bench.roofline import ceiling_images_per_second
from resnetlab.data import DataBundle, ImageDataset
from resnetlab.hardware import placement
from resnetlab.models import create_model


def test_alternate_rotates_the_order_and_times_each_case_every_repeat():
    calls: list[str] = []
    cases = {name: (lambda n=name: calls.append(n)) for name in "abc"}
    stats = alternate(cases, repeats=3, warmup=1)
    assert calls[:3] == ["a", "b", "c"]  # warm-up
    assert calls[3:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert all(len(s.samples) == 3 for s in stats.values())


def test_alternate_keeps_calling_until_min_seconds():
    count = []
    alternate({"x": lambda: count.append(1)}, repeats=1, warmup=0, min_seconds=0.02)
    assert len(count) > 1


def test_speedup_is_the_per_repeat_ratio_of_times():
    base, fast = Stats((2.0, 4.0, 3.0)), Stats((1.0, 1.0, 3.0))
    assert speedup(base, fast).samples == (2.0, 4.0, 1.0)
    assert speedup(base, fast).median == 2.0


def test_stats_inverse_turns_seconds_per_call_into_items_per_second():
    s = Stats((0.5, 0.25)).inverse(10)
    assert s.samples == (20.0, 40.0) and s.lo == 20.0 and s.hi == 40.0
    assert s.spread == pytest.approx(20 / 30)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_peak_call_bytes_sees_a_temporary_allocation():
    def allocate() -> None:
        torch.ones(32 * 2**20 // 4).add_(1)  # 32 MiB, touched, then freed

    peak = peak_call_bytes(allocate)
    assert peak is not None and peak >= 24 * 2**20


def _cifar10_shaped(images: int) -> DataBundle:
    """CIFAR-10's shape and size without its pixels (one repeated image: no memory)."""
    pixels = torch.zeros(1, 3, 32, 32, dtype=torch.uint8).expand(images, -1, -1, -1)
    train = ImageDataset(pixels, torch.arange(images) % 10, [str(i) for i in range(10)],
                         (0.5,) * 3, (0.25,) * 3, "cifar10-shaped")
    return DataBundle("cifar10", train=train, test=train.subset(slice(0, 100)))


def _optimizer_settings(trainer) -> list[dict]:
    return [{**{k: v for k, v in g.items() if k != "params"}, "params": len(g["params"])}
            for g in trainer.optimizer.param_groups]


def test_resnetlab_training_path_is_the_trainer_train_builds(tmp_path, monkeypatch):
    """The bench's resnetlab path against the trainer ``train`` itself builds for
    ``resnetlab train --data cifar10 --batch-size 128`` on this CPU, stopped before its first
    step; and the path's step is that trainer's step."""
    from resnetlab.bench.training import resnetlab_trainer
    from resnetlab.train import train
    from resnetlab.train.ema import ModelEma
    from resnetlab.train.trainer import Trainer

    class Built(Exception):
        pass

    def stop(trainer, progress, log):
        raise Built(trainer)

    monkeypatch.setattr(Trainer, "run", stop)
    with pytest.raises(Built) as built:
        train("resnet20", _cifar10_shaped(50_000), out_dir=tmp_path / "run", batch_size=128,
              device="cpu", quiet=True)
    reference = built.value.args[0]
    cpu = torch.device("cpu")
    path = resnetlab_path(cpu)
    bench = resnetlab_trainer(create_model("resnet20", num_classes=10), path, batch_size=128,
                              image_size=32, num_classes=10, device=cpu)
    assert bench.where == reference.where == placement("cpu")
    assert (path.precision, path.channels_last) == (reference.where.precision,
                                                   reference.where.channels_last)
    # the fitted recipe holds label smoothing, EMA decay, learning rate and augmentation
    assert bench.fitted == reference.fitted
    assert reference.fitted.label_smoothing > 0 and reference.ema is not None
    assert type(bench.ema) is type(reference.ema) and bench.ema.decay == reference.ema.decay
    assert type(bench.optimizer) is type(reference.optimizer)
    assert _optimizer_settings(bench) == _optimizer_settings(reference)
    assert (STOCK.precision, STOCK.channels_last, STOCK.compile) == ("fp32", False, False)

    calls = {"step": 0, "ema": 0}
    step, update = Trainer.train_step, ModelEma.update

    def counted_step(self, *args):
        calls["step"] += 1
        return step(self, *args)

    def counted_update(self, model):
        calls["ema"] += 1
        update(self, model)

    monkeypatch.setattr(Trainer, "train_step", counted_step)
    monkeypatch.setattr(ModelEma, "update", counted_update)
    bench_step(create_model("resnet20", num_classes=10), path, batch_size=8, image_size=32,
               num_classes=10, device=cpu)()
    assert calls == {"step": 1, "ema": 1}


def test_training_ceiling_counts_three_passes():
    assert ceiling_images_per_second(1e6, 6e6, training=True) == pytest.approx(1.0)
    assert ceiling_images_per_second(1e6, 6e6, training=False) == pytest.approx(3.0)


@pytest.mark.parametrize("engine", ["channels_last", "fold_bn", "jit_freeze", "onnx"])
def test_fp32_engines_compute_the_eager_logits(engine, tmp_path):
    torch.manual_seed(0)
    model = create_model("resnet20", num_classes=10).eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        expected = model(x)
    got = build_engine(engine, model, x, workdir=tmp_path).run(x)
    torch.testing.assert_close(got, expected, atol=1e-3, rtol=1e-3)


def test_int8_engine_needs_calibration_images(tmp_path):
    from resnetlab.errors import ConfigError

    model = create_model("resnet20", num_classes=10).eval()
    with pytest.raises(ConfigError, match="calibration"):
        build_engine("onnx_int8", model, torch.randn(2, 3, 32, 32), workdir=tmp_path)


@pytest.mark.parametrize("flags, native", [
    ({"avx2", "fma"}, False),
    ({"avx2", "avx512f", "avx512_vnni"}, False),
    ({"avx512f", "avx512_bf16"}, True),
    ({"amx_tile", "amx_bf16"}, True),
])
def test_native_bf16_is_read_from_the_cpu_flags(flags, native):
    from resnetlab.hardware import has_native_bf16

    assert has_native_bf16(flags) is native


@pytest.mark.parametrize("native, precision", [(True, "bf16"), (False, "fp32")])
def test_cpu_precision_default_follows_native_bf16(monkeypatch, native, precision):
    import resnetlab.hardware as device

    monkeypatch.setattr(device, "has_native_bf16", lambda: native)
    assert device.placement("cpu").precision == precision
    assert device.placement("cpu", "fp32").precision == "fp32"  # an explicit choice wins
    assert device.placement("cpu").channels_last
