"""Export and fast inference: ONNX/TorchScript parity, BN folding, int8, the export CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import resnetlab
from resnetlab.cli import main
from resnetlab.deploy import (
    export_onnx,
    export_torchscript,
    find_conv_bn_pairs,
    fold_batchnorm,
    onnx_session,
    read_onnx_meta,
    run_onnx,
)
from resnetlab.models import save_weights

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

CIFAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-subset" / \
    "cifar-10-batches-py"
needs_cifar = pytest.mark.skipif(not CIFAR.is_dir(), reason="shared CIFAR subset not present")


@pytest.fixture(scope="module")
def cifar():
    if not CIFAR.is_dir():
        pytest.skip("shared CIFAR subset not present")
    from resnetlab.data import load_cifar10

    return load_cifar10(CIFAR)


@pytest.fixture(scope="module")
def images(cifar):
    """Real CIFAR test images, normalized as a model trained on the subset would see them."""
    from resnetlab.data import normalize

    train, test = cifar
    return normalize(test.images[:32], train.mean, train.std)


def _with_real_bn_stats(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Set BN statistics from data (as training would), so folding is tested on real scales."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calibration batches
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    model.train()
    with torch.no_grad():
        model(x)
    return model.eval()


def _meta(model_name: str, train) -> dict:
    return {"model": model_name, "classes": list(train.classes), "mean": list(train.mean),
            "std": list(train.std), "input_size": [3, 32, 32]}


@needs_cifar
def test_onnx_matches_pytorch_on_real_images_with_any_batch(images, tmp_path):
    torch.manual_seed(0)
    model = _with_real_bn_stats(resnetlab.create_model("resnet20"), images)
    result = export_onnx(model, tmp_path / "m.onnx", (3, 32, 32), check_inputs=images)
    assert result.max_abs_diff <= 1e-4
    session = onnx_session(result.path)
    for batch in (1, 5):  # the batch axis is dynamic
        with torch.no_grad():
            expected = model(images[:batch]).numpy()
        assert np.abs(run_onnx(session, images[:batch]) - expected).max() <= 1e-4


def test_onnx_file_carries_the_model_json(tmp_path):
    model = resnetlab.create_model("resnet20")
    meta = {"model": "resnet20", "classes": list("abcdefghij"), "mean": [0.5] * 3,
            "std": [0.2] * 3, "input_size": [3, 32, 32], "metrics": {"not": "shipped"}}
    export_onnx(model, tmp_path / "m.onnx", (3, 32, 32), meta=meta)
    shipped = read_onnx_meta(tmp_path / "m.onnx")
    assert shipped["classes"] == meta["classes"] and "metrics" not in shipped


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_export_reloads_with_equal_outputs(tmp_path):
    model = resnetlab.create_model("resnet20")
    result = export_torchscript(model, tmp_path / "m.pt", (3, 32, 32))
    loaded = torch.jit.load(str(result.path))
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model.eval()(x), atol=1e-5, rtol=0)


@needs_cifar
@pytest.mark.parametrize("name, kwargs", [
    ("resnet20", {}), ("preact_resnet110", {"depth": 20}), ("wrn_16_8", {}), ("plain20", {}),
])
def test_folded_cifar_nets_match_within_1e5(name, kwargs, images):
    torch.manual_seed(0)
    model = _with_real_bn_stats(resnetlab.create_model(name, **kwargs), images)
    folded = fold_batchnorm(model)
    with torch.no_grad():
        assert (folded(images) - model(images)).abs().max() <= 1e-5


@pytest.mark.parametrize("name", ["resnet18", "resnet50d"])
def test_folding_is_exact_on_imagenet_nets(name):
    # Deep ImageNet nets in float32 differ by rounding alone (~1e-4 on random weights); in
    # float64 the folded net must equal the original, which pins the algebra itself.
    torch.manual_seed(0)
    x = torch.randn(4, 3, 64, 64, dtype=torch.float64)
    model = _with_real_bn_stats(resnetlab.create_model(name).double(), x)
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad():
        assert (folded(x) - model(x)).abs().max() <= 1e-9


def test_pre_activation_bns_that_read_a_sum_are_left_alone():
    model = resnetlab.create_model("preact_resnet110", depth=20)
    pairs = find_conv_bn_pairs(model)
    folded_bns = {bn for _, bn in pairs}
    for name, block in model.named_modules():
        if hasattr(block, "preactivation") and block.preactivation:
            assert f"{name}.bn1" not in folded_bns  # reads the block input, not a conv
            assert f"{name}.bn2" in folded_bns      # follows conv1
    assert "final_bn" not in folded_bns
    folded = fold_batchnorm(model)
    remaining = sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert remaining == 9 + 1  # one bn1 per block, plus the final BN


def test_folding_leaves_the_original_model_untouched():
    model = resnetlab.create_model("resnet20")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fold_batchnorm(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.fixture
def run_dir(tmp_path, cifar, images):
    train, _ = cifar
    torch.manual_seed(0)
    model = _with_real_bn_stats(resnetlab.create_model("resnet20"), images)
    save_weights(model, tmp_path / "run", _meta("resnet20", train))
    return tmp_path / "run"


@needs_cifar
def test_export_cli_writes_folded_onnx_and_int8(run_dir, capsys):
    code = main(["export", str(run_dir), "--fold-bn", "--int8", "--calibration-data", "cifar10",
                 "--data-dir", str(CIFAR), "--num-calibration", "64"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert (run_dir / "model.onnx").is_file() and (run_dir / "model.int8.onnx").is_file()
    assert "conv-BN pairs folded" in out and "top-1 agreement" in out
    assert read_onnx_meta(run_dir / "model.int8.onnx")["model"] == "resnet20"


@needs_cifar
def test_export_cli_calibrates_from_an_image_folder(run_dir, tmp_path, cifar, capsys):
    from PIL import Image

    folder = tmp_path / "calib" / "any_class"
    folder.mkdir(parents=True)
    for i, image in enumerate(cifar[1].images[:12]):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i}.png")
    out_path = tmp_path / "exported" / "r20.onnx"
    code = main(["export", str(run_dir), "--int8", "--calibration-dir", str(tmp_path / "calib"),
                 "--out", str(out_path)])
    assert code == 0, capsys.readouterr().err
    assert out_path.is_file() and out_path.with_name("r20.int8.onnx").is_file()


def test_export_cli_int8_needs_onnx_and_calibration(run_dir, capsys):
    assert main(["export", str(run_dir), "--format", "torchscript", "--int8"]) == 2
    assert main(["export", str(run_dir), "--int8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "--calibration-dir" in err[1]


def test_export_cli_wrong_architecture_is_one_line(tmp_path, capsys):
    torch.save(resnetlab.create_model("resnet20").state_dict(), tmp_path / "r20.pth")
    assert main(["export", str(tmp_path / "r20.pth"), "--model", "resnet56"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "layer1.3.conv1.weight" in err


def test_export_cli_truncated_weights_is_one_line(tmp_path, capsys):
    torch.save(resnetlab.create_model("resnet20").state_dict(), tmp_path / "r20.pth")
    data = (tmp_path / "r20.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) - 100])
    assert main(["export", str(tmp_path / "cut.pth"), "--model", "resnet20"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "truncated" in err


@needs_cifar
def test_int8_keeps_first_conv_and_classifier_in_float(run_dir, images, tmp_path):
    import onnx

    from resnetlab.deploy import quantize_onnx

    model, _ = resnetlab.load_model(run_dir)
    fp32 = export_onnx(model, tmp_path / "m.onnx", (3, 32, 32)).path
    # 37 images: a prime count, so the histogram calibrator needs equal batches of one.
    int8 = quantize_onnx(fp32, tmp_path / "m.int8.onnx", images[:37].repeat(2, 1, 1, 1)[:37],
                         method="percentile")
    graph = onnx.load(str(int8)).graph
    produced_by = {out: node.op_type for node in graph.node for out in node.output}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    gemm = next(n for n in graph.node if n.op_type == "Gemm")

    def dequantized(node) -> bool:
        return produced_by.get(node.input[1]) == "DequantizeLinear"

    assert not dequantized(convs[0]) and not dequantized(gemm)
    assert all(dequantized(c) for c in convs[1:])
    with torch.no_grad():
        expected = model(images).argmax(1).numpy()
    agreement = (run_onnx(onnx_session(int8), images).argmax(1) == expected).mean()
    assert agreement >= 0.9  # a random-weight net on 32 images: a sanity bound, not the benchmark
