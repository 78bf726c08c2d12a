"""``resnetlab predict SOURCE`` for every kind of weights source, through the one loader.

Run directory, saved ``.safetensors`` + ``model.json``, a torchvision ``.pth`` (ImageNet class
names and preprocessing, checked against torchvision's own transform and model), and a
published tag whose file is already in the local cache (no network).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest
import torch
from PIL import Image

from resnetlab.cli import main
from resnetlab.data import read_image
from resnetlab.models.hub import zoo
from resnetlab.models.hub.fetch import cache_dir
from resnetlab.models.hub.preset import imagenet_classes

torchvision = pytest.importorskip("torchvision")


def _predict(capsys, *argv: str) -> list[dict]:
    capsys.readouterr()
    assert main(["predict", *argv, "--json", "-"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def run_dir(digits_run_dir):
    return digits_run_dir  # conftest: one epoch of resnet20 on the 8x8 digits


@pytest.fixture
def digit_png(tmp_path):
    from resnetlab.data import load

    path = tmp_path / "digit.png"
    Image.fromarray(load("digits").test.images[0][0].numpy(), mode="L").save(path)
    return path


@pytest.fixture
def photo(tmp_path):
    """A square RGB image (square: both resizes agree on the output size to the pixel)."""
    g = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (300, 300, 3), generator=g, dtype=torch.uint8).numpy()
    path = tmp_path / "photo.png"
    Image.fromarray(pixels).save(path)
    return path


def test_run_dir_and_its_safetensors_predict_the_same(run_dir, digit_png, capsys):
    classes = json.loads((run_dir / "model.json").read_text())["classes"]
    by_dir = _predict(capsys, str(run_dir), str(digit_png))
    by_file = _predict(capsys, str(run_dir / "model.safetensors"), str(digit_png))
    by_json = _predict(capsys, str(run_dir / "model.json"), str(digit_png))
    assert by_dir[0]["top"] == by_file[0]["top"] == by_json[0]["top"]
    assert {t["label"] for t in by_dir[0]["top"]} <= set(classes)


def _torchvision_probs(model: torch.nn.Module, path) -> torch.Tensor:
    """What torchvision itself gives: its published IMAGENET1K_V1 transform, its model."""
    transform = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.transforms()
    with torch.no_grad():
        return model.eval()(transform(read_image(path))[None]).softmax(dim=1)[0]


def test_unreadable_images_fail_before_the_model_is_exported(run_dir, tmp_path, monkeypatch,
                                                            capsys):
    import resnetlab.deploy.engines as engines

    def no_export(*args, **kwargs):
        raise AssertionError("exported before the images were read")

    monkeypatch.setattr(engines, "engine_for", no_export)  # what exports for --engine onnx
    for name in ("a.png", "b.jpg"):
        (tmp_path / name).write_bytes(b"not an image at all")
    assert main(["predict", str(run_dir), str(tmp_path), "--engine", "onnx"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: none of the 2 images could be read") and "\n" not in err


def test_torchvision_pth_gets_imagenet_names_and_torchvision_probabilities(
        tmp_path, photo, capsys):
    torch.manual_seed(0)
    reference = torchvision.models.resnet18()
    torch.save(reference.state_dict(), tmp_path / "r18.pth")
    top = _predict(capsys, str(tmp_path / "r18.pth"), str(photo), "--model", "resnet18")[0]["top"]
    expected = _torchvision_probs(reference, photo)
    names = imagenet_classes()
    for entry in top:
        assert entry["label"] in names
        assert entry["probability"] == pytest.approx(
            float(expected[names.index(entry["label"])]), abs=1e-4)
    assert top[0]["label"] == names[int(expected.argmax())]


def test_published_tag_loads_from_the_local_cache(tmp_path, photo, monkeypatch, capsys):
    """``IMAGENET1K_V1`` resolves to its URL; the file found in the cache (hash-checked) is
    used and nothing is downloaded. The table entry is pointed at a file made here, as the real
    44 MB download is not available offline."""
    monkeypatch.setenv("RESNETLAB_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(1)
    reference = torchvision.models.resnet18()
    staged = tmp_path / "staged.pth"
    torch.save(reference.state_dict(), staged)
    digest = hashlib.sha256(staged.read_bytes()).hexdigest()
    entry = next(w for w in zoo.TORCHVISION_WEIGHTS
                 if w.model == "resnet18" and w.tag == "IMAGENET1K_V1")
    local = replace(entry, url=f"{entry.url.rsplit('-', 1)[0]}-{digest[:8]}.pth",
                    sha256_prefix=digest[:8])
    monkeypatch.setattr(zoo, "TORCHVISION_WEIGHTS", (local,))
    cache_dir().mkdir(parents=True)
    staged.rename(cache_dir() / local.filename)

    def no_network(*args, **kwargs):
        raise AssertionError("a cached published file must not be downloaded again")

    monkeypatch.setattr("resnetlab.downloads.urllib.request.urlopen", no_network)
    top = _predict(capsys, "IMAGENET1K_V1", str(photo), "--model", "resnet18")[0]["top"]
    names = imagenet_classes()
    assert top[0]["label"] == names[int(_torchvision_probs(reference, photo).argmax())]


def test_a_tag_without_a_model_name_says_to_pass_one(photo, capsys):
    assert main(["predict", "IMAGENET1K_V1", str(photo)]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "--model" in err and len(err.splitlines()) == 1


def test_train_weights_accepts_a_run_dir_like_predict(run_dir, tmp_path, capsys):
    """``--weights`` takes the same sources everywhere: here a run directory warm-starts a run."""
    out = tmp_path / "warm"
    assert main(["train", "--model", "resnet20", "--data", "digits", "--image-size", "8",
                 "--epochs", "1", "--batch-size", "64", "--threads", "1", "--quiet",
                 "--weights", str(run_dir), "--out", str(out)]) == 0
    assert (out / "model.safetensors").is_file()
