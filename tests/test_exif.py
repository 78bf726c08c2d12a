"""Images as people see them: EXIF orientation followed, decompression bombs refused.

A phone stores a portrait photo as landscape pixels plus EXIF orientation 6 ("rotate 90 degrees
clockwise to show"); browsers show it upright, so resnetlab must read and classify it upright:
the same tensor, and the same prediction, as the photo physically rotated. An image whose header
announces 30,000 x 30,000 pixels must be a one-line user error in every image reader, never a
traceback or a MemoryError.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.fuzzing.hostile import png_bomb
from resnetlab import create_model
from resnetlab.cli import main
from resnetlab.data.folder import load_image_folder
from resnetlab.data.images import ImageTooLargeError, decode_image, read_image
from resnetlab.deploy.predict import predict_files
from resnetlab.errors import DataError
from resnetlab.models.hub.weights import save_weights


def _photo() -> np.ndarray:
    """A landscape picture with a strong left-to-right and top-to-bottom structure."""
    h, w = 24, 40
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 6, y * 10, (x < 8) * 250], axis=-1).astype(np.uint8)


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(photo.jpg with EXIF orientation 6, its pixels rotated by hand as a PNG, the same JPEG
    without the EXIF tag)."""
    root = tmp_path_factory.mktemp("exif")
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = root / "photo.jpg"
    Image.fromarray(_photo()).save(photo, quality=95, exif=exif)
    with Image.open(photo) as stored:
        assert stored.getexif()[0x0112] == 6
        pixels = np.asarray(stored.convert("RGB"))  # as stored, orientation not applied
    # Orientation 6: the stored picture is shown turned 90 degrees clockwise.
    twin = root / "twin.png"
    Image.fromarray(np.rot90(pixels, k=-1).copy()).save(twin)
    plain = root / "plain.png"
    Image.fromarray(pixels).save(plain)
    return photo, twin, plain


def test_read_image_applies_exif_orientation(pair):
    photo, twin, plain = pair
    upright = read_image(photo)
    assert upright.shape == (3, 40, 24)  # portrait, as shown
    assert torch.equal(upright, read_image(twin))
    assert not torch.equal(upright.transpose(1, 2), read_image(plain))  # really rotated
    assert torch.equal(upright, decode_image(photo.read_bytes()))  # uploads the same
    assert torch.equal(read_image(photo, channels=1), read_image(twin, channels=1))


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = create_model("resnet20", num_classes=10)
    run = tmp_path_factory.mktemp("model")
    save_weights(model, run, {"classes": [f"c{i}" for i in range(10)], "mean": [0.5] * 3,
                              "std": [0.25] * 3, "input_size": [3, 40, 24]})
    return run


def test_prediction_follows_exif_orientation(pair, saved_model):
    photo, twin, plain = pair
    shown, rotated, unrotated = predict_files(saved_model, [photo, twin, plain], top_k=10)
    assert shown.top == rotated.top
    assert [p for _, p in shown.top] != pytest.approx([p for _, p in unrotated.top], abs=1e-7)


# 30,000^2 is past PIL's error threshold (2x MAX_IMAGE_PIXELS); 10,000^2 is in the band where
# PIL only warns and would go on to decode 300 MB.
BOMBS = {"30000x30000": (30_000, 30_000), "10000x10000": (10_000, 10_000)}


@pytest.fixture(params=sorted(BOMBS))
def bomb(request, tmp_path) -> Path:
    path = tmp_path / "pics" / "cls" / "bomb.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(png_bomb(*BOMBS[request.param]))
    return path


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert text and "\n" not in text
    return text


def test_bombs_are_refused_by_read_and_decode(bomb):
    with pytest.raises(ImageTooLargeError) as exc:
        read_image(bomb)
    assert "pixels" in _one_line(exc)
    with pytest.raises(ImageTooLargeError) as exc:
        decode_image(bomb.read_bytes())
    _one_line(exc)


def test_bombs_in_a_folder_are_skipped_or_stop_a_strict_load(bomb):
    folder = bomb.parents[1]
    with pytest.raises(DataError) as exc:
        load_image_folder(folder)  # the only image: nothing readable is left
    _one_line(exc)
    with pytest.raises(ImageTooLargeError):
        load_image_folder(folder, strict=True)
    Image.new("RGB", (8, 8)).save(bomb.with_name("fine.png"))
    assert len(load_image_folder(folder)) == 1


def test_bombs_through_predict_and_embed_are_one_line_errors(bomb, saved_model, capsys):
    with pytest.raises(DataError) as exc:
        predict_files(saved_model, [bomb])
    _one_line(exc)
    out = bomb.parents[2] / "emb.npy"
    for argv in (["predict", str(saved_model), str(bomb)],
                 ["embed", str(saved_model), str(bomb.parents[1]), "--out", str(out)]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: ")


def test_raising_the_limit_is_obeyed(tmp_path, monkeypatch):
    image = io.BytesIO()
    Image.new("RGB", (30, 30)).save(image, format="PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ImageTooLargeError):
        decode_image(image.getvalue())
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    assert decode_image(image.getvalue()).shape == (3, 30, 30)
