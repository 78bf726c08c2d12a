"""A pickle whose ``__reduce__`` runs code never runs in any reader resnetlab has.

Every reader that unpickles user files is tried: CIFAR batches (allow-list unpickler), weight
files and checkpoints (``torch.load(weights_only=True)``), saved models and the CLI. The
payload would create a marker file; the test asserts it does not exist afterwards and that the
reader failed with its one-line user error. (``np.load`` is only used on the embedded digits
asset, with ``allow_pickle=False``.)
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmarks.fuzzing.hostile import Payload
from resnetlab.cli import main
from resnetlab.data.cifar import load_cifar10
from resnetlab.errors import CheckpointError, DataError
from resnetlab.models.hub.loader import load_model
from resnetlab.models.hub.statedict import read_file
from resnetlab.train.checkpoint import load_checkpoint


def _payloads(marker: Path) -> dict[str, object]:
    return {
        "open": Payload(open, (str(marker), "w")),
        "os.system": Payload(os.system, (f"touch '{marker}'",)),
        "exec": Payload(exec, (f"open({str(marker)!r}, 'w').close()",)),
        # hidden inside the structure a reader expects, not at the top
        "nested": {b"data": Payload(open, (str(marker), "w")), b"labels": [0],
                   "state_dict": {"fc.weight": Payload(open, (str(marker), "w"))}},
    }


PAYLOADS = ("open", "os.system", "exec", "nested")


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "MARKER"
    yield path
    assert not path.exists(), "the pickle's code ran"


def _evil(tmp_path: Path, marker: Path, payload: str, name: str, protocol: int = 2) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(_payloads(marker)[payload], protocol=protocol))
    return path


def _one_line(exc: pytest.ExceptionInfo) -> None:
    assert "\n" not in str(exc.value) and str(exc.value)


def _cifar_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    images = np.zeros((2, 3072), dtype=np.uint8)
    batch = pickle.dumps({b"data": images, b"labels": [0, 1]}, protocol=2)
    (folder / "data_batch_1").write_bytes(batch)
    (folder / "test_batch").write_bytes(batch)
    names = [f"c{i}".encode() for i in range(10)]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    return folder


@pytest.mark.parametrize("victim", ["data_batch_1", "test_batch", "batches.meta"])
@pytest.mark.parametrize("payload", PAYLOADS)
def test_cifar_batches_never_run_code(tmp_path, marker, payload, victim):
    folder = _cifar_folder(tmp_path)
    load_cifar10(folder)  # the clean folder loads: the failure below is the payload's
    for protocol in (0, 2, 4):
        _evil(folder, marker, payload, victim, protocol)
        with pytest.raises(DataError) as exc:
            load_cifar10(folder)
        _one_line(exc)
        assert victim in str(exc.value)


@pytest.mark.parametrize("suffix", [".pth", ".pt", ".bin", ".safetensors"])
@pytest.mark.parametrize("payload", PAYLOADS)
def test_weight_files_never_run_code(tmp_path, marker, payload, suffix):
    path = _evil(tmp_path, marker, payload, f"weights{suffix}")
    with pytest.raises(CheckpointError) as exc:
        read_file(path)
    _one_line(exc)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_training_checkpoints_never_run_code(tmp_path, marker, payload):
    path = _evil(tmp_path, marker, payload, "run/checkpoints/last.pt")
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(path)
    _one_line(exc)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> Path:
    from resnetlab import create_model
    from resnetlab.models.hub.weights import save_weights

    run = tmp_path_factory.mktemp("saved")
    model = create_model("resnet20", num_classes=2, in_chans=1)
    save_weights(model, run, {"classes": ["a", "b"], "mean": [0.5], "std": [0.5],
                              "input_size": [1, 8, 8]})
    return run


@pytest.mark.parametrize("payload", PAYLOADS)
def test_saved_models_never_run_code(tmp_path, marker, payload, saved_model):
    run = tmp_path / "run"
    shutil.copytree(saved_model, run)
    load_model(run)  # loads before the weights are replaced
    _evil(run, marker, payload, "model.safetensors")
    with pytest.raises(CheckpointError) as exc:
        load_model(run)
    _one_line(exc)
    json.loads((run / "model.json").read_text())  # untouched


@pytest.mark.parametrize("payload", PAYLOADS)
def test_cli_never_runs_code_and_prints_one_line(tmp_path, marker, payload, capsys):
    weights = _evil(tmp_path, marker, payload, "evil.pth")
    image = tmp_path / "x.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(image)
    code = main(["predict", str(weights), str(image), "--model", "resnet20"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ") and err.count("\n") == 1, err
