"""One policy in every command (docs/cli.md, "Bad files and earlier results").

Bad files: an unreadable image among others is skipped with one warning line naming it, exit 0;
``--strict`` stops at it (exit 1); no readable image at all, or a missing path, is exit 1.
Earlier results are replaced only with ``--overwrite`` (else exit 2, nothing touched); a
command that fails before working leaves nothing behind; a closed pipe ends quietly.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import resnetlab
from resnetlab.cli import main
from resnetlab.models.hub.weights import save_weights

torch = pytest.importorskip("torch")

META = {"classes": list("abcdefghij"), "mean": [0.5] * 3, "std": [0.25] * 3,
        "input_size": [3, 32, 32]}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """An untrained resnet20 saved as model.safetensors + model.json: every command loads it."""
    out = tmp_path_factory.mktemp("policy") / "model"
    save_weights(resnetlab.create_model("resnet20").eval(), out, META)
    return out


@pytest.fixture
def folder(tmp_path):
    """Three good images (one in a sub-folder) and one corrupt ``broken.png``."""
    images = tmp_path / "imgs"
    (images / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a.png", "sub/b.jpg", "c.png"):
        Image.fromarray(rng.integers(0, 255, (40, 36, 3), dtype=np.uint8)).save(images / name)
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"torn" * 10)
    return images


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# --- bad files -----------------------------------------------------------------------------

def test_predict_over_a_folder_skips_the_corrupt_image_with_one_warning(model_dir, folder,
                                                                         capsys):
    assert main(["predict", str(model_dir), str(folder), "--json", "-"]) == 0
    captured = capsys.readouterr()
    predicted = sorted(os.path.relpath(p["image"], folder) for p in json.loads(captured.out))
    assert predicted == ["a.png", "c.png", os.path.join("sub", "b.jpg")]
    warnings = [line for line in _lines(captured.err) if line.startswith("warning:")]
    assert len(warnings) == 1 and "broken.png" in warnings[0] and "skipped 1" in warnings[0]


def test_predict_strict_stops_at_the_corrupt_image(model_dir, folder, capsys):
    assert main(["predict", str(model_dir), str(folder), "--strict"]) == 1
    err = _lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("error: ") and "broken.png" in err[0]


def test_predict_on_a_folder_with_no_readable_image_is_exit_1(model_dir, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.jpg").write_text("not a photo")
    (bad / "y.png").write_bytes(b"")
    assert main(["predict", str(model_dir), str(bad)]) == 1
    err = _lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("error: none of the 2 images could be read")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    assert main(["predict", str(model_dir), str(empty)]) == 1
    err = _lines(capsys.readouterr().err)
    assert len(err) == 1 and "no images" in err[0]


def test_predict_with_a_missing_path_is_exit_1_before_loading_the_model(folder, tmp_path,
                                                                        capsys):
    # the model does not exist either: the typo in the image path is reported first
    assert main(["predict", str(tmp_path / "no-model"), str(folder / "a.png"),
                 str(folder / "typo.png")]) == 1
    err = _lines(capsys.readouterr().err)
    assert len(err) == 1 and "typo.png does not exist" in err[0]


def test_embed_strict_stops_and_writes_nothing(model_dir, folder, tmp_path, capsys):
    out = tmp_path / "emb.npy"
    assert main(["embed", str(model_dir), str(folder), "--out", str(out), "--strict"]) == 1
    assert "broken.png" in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".txt").exists()


def test_eval_on_an_image_folder_skips_or_with_strict_stops(tmp_path, capsys):
    data = tmp_path / "data"
    rng = np.random.default_rng(1)
    for cls in ("cat", "dog"):
        (data / cls).mkdir(parents=True)
        for i in range(3):  # 3 per class: enough to hold out a test part
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
                data / cls / f"{i}.png")
    (data / "dog" / "bad.png").write_bytes(b"junk")
    save_weights(resnetlab.create_model("resnet20", num_classes=2).eval(), tmp_path / "model",
                 {**META, "classes": ["cat", "dog"]})
    argv = ["eval", str(tmp_path / "model"), "--data", "folder", "--data-dir", str(data),
            "--split", "test", "--confusion", str(tmp_path / "c.png"), "--json", "-"]
    assert main(argv) == 0  # the bad file is skipped (the folder loader logs the warning)
    assert json.loads(capsys.readouterr().out)["n"] >= 1
    assert main([*argv, "--strict"]) == 1
    err = _lines(capsys.readouterr().err)
    assert len(err) == 1 and "bad.png" in err[0]


def test_train_strict_stops_before_creating_the_run_and_is_kept_by_the_run(tmp_path, capsys):
    data = tmp_path / "data"
    rng = np.random.default_rng(2)
    for cls in ("cat", "dog"):
        (data / cls).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(
                data / cls / f"{i}.png")
    (data / "cat" / "bad.jpg").write_bytes(b"not a jpeg")
    argv = ["train", "--data", "folder", "--data-dir", str(data), "--image-size", "16",
            "--batch-size", "4", "--set", "iterations=1", "--quiet"]
    assert main([*argv, "--strict", "--out", str(tmp_path / "strict")]) == 1
    err = _lines(capsys.readouterr().err)
    assert len(err) == 1 and "bad.jpg" in err[0] and not (tmp_path / "strict").exists()
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0  # skipped, the run goes on
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["strict"] is False


# --- earlier results -----------------------------------------------------------------------

def test_lab_refuses_a_directory_with_earlier_results_and_overwrite_replaces(tmp_path, capsys):
    out = tmp_path / "depth"
    out.mkdir()
    earlier = json.dumps({"experiment": "depth", "quick": False, "hours": 3}) + "\n"
    (out / "results.json").write_text(earlier)
    assert main(["lab", "depth", "--quick", "--out", str(out)]) == 2
    err = _lines(capsys.readouterr().err)
    assert len(err) == 1 and "--overwrite" in err[0] and "--out" in err[0]
    assert (out / "results.json").read_text() == earlier  # untouched
    assert main(["lab", "depth", "--quick", "--out", str(out), "--overwrite"]) == 0
    assert json.loads((out / "results.json").read_text())["quick"] is True


def test_lab_failed_start_leaves_no_directory(tmp_path, capsys):
    out = tmp_path / "runs" / "deg"
    assert main(["lab", "degradation", "--quick", "--data-dir", str(tmp_path / "nowhere"),
                 "--out", str(out)]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    assert not (tmp_path / "runs").exists()  # nor the parent folder made for it


def test_export_refuses_an_earlier_export_and_overwrite_replaces_it(model_dir, tmp_path,
                                                                   capsys):
    out = tmp_path / "exports" / "model.pt"
    out.parent.mkdir()
    out.write_bytes(b"an earlier export")
    argv = ["export", str(model_dir), "--format", "torchscript", "--out", str(out)]
    assert main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"an earlier export"
    assert main([*argv, "--overwrite"]) == 0
    assert torch.jit.load(str(out)) is not None
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.pt"]  # no temp file left


def test_export_that_fails_leaves_nothing_behind(tmp_path, capsys):
    out = tmp_path / "new" / "model.onnx"
    assert main(["export", str(tmp_path / "missing.safetensors"), "--out", str(out)]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    assert not out.parent.exists()


def test_an_export_that_fails_its_check_keeps_the_earlier_file(tmp_path):
    from resnetlab.deploy.export import export_torchscript
    from resnetlab.errors import ResnetlabError

    out = tmp_path / "model.pt"
    out.write_bytes(b"an earlier export")
    model = resnetlab.create_model("resnet20")
    with pytest.raises(ResnetlabError, match="differs"):  # no difference is <= -1
        export_torchscript(model, out, (3, 32, 32), atol=-1.0)
    assert out.read_bytes() == b"an earlier export"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # the temp file is gone


def test_embed_refuses_earlier_embeddings(model_dir, folder, tmp_path, capsys):
    out = tmp_path / "emb.npy"
    np.save(out, np.zeros(3))
    listing = out.with_suffix(".txt")
    listing.write_text("earlier\n")
    argv = ["embed", str(model_dir), str(folder), "--out", str(out)]
    assert main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert np.load(out).shape == (3,) and listing.read_text() == "earlier\n"
    assert main([*argv, "--overwrite"]) == 0
    assert np.load(out).shape[0] == 3 and len(listing.read_text().splitlines()) == 3


def test_bench_refuses_an_earlier_report_before_measuring(tmp_path, capsys):
    report = tmp_path / "bench.json"
    report.write_text("{}\n")
    assert main(["bench", "--quick", "--json", str(report)]) == 2
    assert "--overwrite" in capsys.readouterr().err and report.read_text() == "{}\n"


# --- numbers and pipes ---------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["lab", "depth", "--threads", "99999999999999999999"],
    ["lab", "depth", "--threads", "100000"],
    ["eval", "x", "--batch-size", "1" + "0" * 30],
    ["lab", "gradient-flow", "--lr", "nan"],
])
def test_huge_or_non_finite_numbers_are_a_one_line_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = _lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("error: argument --")


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "resnetlab", *argv]


@pytest.mark.parametrize("argv", [("summary", "resnet50"), ("models",)])
def test_closed_pipe_ends_quietly(argv):
    """The reader is gone before the command writes: exit 141, nothing on stderr."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(_cli(*argv), stdout=write, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")


def test_summary_into_head_exits_quietly():
    """``resnetlab summary resnet50 | head -1``, a real shell pipe."""
    command = shlex.join(_cli("summary", "resnet50")) + " | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                          text=True, timeout=120)
    assert len(done.stdout.splitlines()) == 1
    assert done.returncode in (0, 141) and done.stderr == ""  # 0: it wrote all before head left


def test_predict_json_into_head_exits_quietly(model_dir, folder):
    command = shlex.join(_cli("predict", str(model_dir), str(folder / "a.png"), "--json", "-"))
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command + " | head -c 10"],
                          capture_output=True, text=True, timeout=120)
    assert done.stdout == json.dumps([{"image": ""}], indent=2)[:10]
    assert done.returncode in (0, 141)
    assert done.stderr == ""
