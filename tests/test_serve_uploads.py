"""Bad uploads never reach the model and never hurt the server; good ones of every image mode
get the same top-k as ``resnetlab predict`` on the same file."""

from __future__ import annotations

import asyncio
import io
import json

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from benchmarks.fuzzing.hostile import png_bomb
from resnetlab.cli import main
from resnetlab.data.images import decode_image, read_image
from resnetlab.models.factory import create_model
from resnetlab.models.hub.loader import untrained_model
from resnetlab.models.hub.weights import save_weights
from resnetlab.serve.app import create_app
from resnetlab.serve.config import ServeConfig

MB = 1024 * 1024


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    """Saved (untrained) ResNet-20s that ``resnetlab predict`` and the server both load."""
    root = tmp_path_factory.mktemp("models")
    for name, channels in (("rgb", 3), ("grey", 1)):
        model, meta = untrained_model("resnet20")
        if channels == 1:
            model = create_model("resnet20", in_chans=1).eval()
            meta = {**meta, "in_chans": 1, "input_size": [1, 32, 32], "mean": [0.5],
                    "std": [0.25], "model_kwargs": {"in_chans": 1}}
        save_weights(model, root / name, meta)
    return {"rgb": root / "rgb", "grey": root / "grey"}


@pytest.fixture(scope="module")
def client(model_dirs, one_thread):
    app = create_app(ServeConfig(sources=(str(model_dirs["rgb"]), str(model_dirs["grey"]))))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def small(model_dirs, one_thread):
    """A server with a 1 MB body limit and a million-pixel image limit."""
    config = ServeConfig(sources=(str(model_dirs["rgb"]),), max_upload_mb=1,
                         max_pixels=1_000_000)
    with TestClient(create_app(config)) as c:
        yield c


def photo(size=(48, 40), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size[::-1], 3), dtype=np.uint8)


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def predict(client, model_id: str, data: bytes, content_type: str = "image/png", **params):
    return client.post(f"/v1/models/{model_id}/predict", content=data, params=params,
                       headers={"content-type": content_type})


def assert_one_line_error(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error and "\n" not in error
    for word in words:
        assert word in error, error


def test_a_body_over_the_limit_is_refused_from_its_content_length(client):
    big = b"\x89PNG" + bytes(50 * MB)
    assert_one_line_error(predict(client, "rgb", big), 413, "10 MB", "--max-upload-mb")


def test_a_chunked_body_without_content_length_is_refused_while_streaming(model_dirs):
    """The body streams in 1 MB chunks with no Content-Length: refused after the limit, long
    before the 50 MB are sent."""
    app = create_app(ServeConfig(sources=(str(model_dirs["rgb"]),), max_upload_mb=2))
    sent = []

    async def body():
        for _ in range(50):
            sent.append(MB)
            yield bytes(MB)

    async def go():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                return await http.post("/v1/models/rgb/predict", content=body(),
                                       headers={"content-type": "image/png"})

    response = asyncio.run(go())
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert_one_line_error(response, 413, "2 MB")
    assert sum(sent) <= 4 * MB


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bombs_are_refused_from_the_header(client, small):
    bomb = png_bomb(20_000, 20_000)  # 400 Mpx announced in a 100-byte file
    assert len(bomb) < 200
    assert_one_line_error(predict(client, "rgb", bomb), 413, "pixels")
    between = png_bomb(10_000, 10_000)  # over our limit, under PIL's own error
    assert_one_line_error(predict(client, "rgb", between), 413, "10000 x 10000")
    saved = encoded(Image.new("1", (2_000, 2_000)))  # a real 4 Mpx image saved by PIL, 2 kB
    assert_one_line_error(predict(small, "rgb", saved), 413, "1,000,000")


def test_broken_and_foreign_files_are_415_or_422(client):
    jpeg = encoded(Image.fromarray(photo()), "JPEG")
    assert_one_line_error(predict(client, "rgb", jpeg[: len(jpeg) // 2], "image/jpeg"), 422,
                          "truncated")
    text = b"this is a text file, not a picture\n" * 20
    named_png = client.post("/v1/models/rgb/predict",
                            files={"file": ("notes.png", text, "image/png")})
    assert_one_line_error(named_png, 415, "not an image")
    assert_one_line_error(predict(client, "rgb", text, "text/plain"), 415, "Content-Type")
    assert_one_line_error(predict(client, "rgb", b""), 422, "no image")
    no_file = client.post("/v1/models/rgb/predict", files={"other": ("a.png", jpeg)})
    assert_one_line_error(no_file, 422, "'file'")


def test_an_image_too_elongated_to_resize_is_422(small):
    thin = encoded(Image.new("L", (5_000, 1)))  # would have to grow to 160,000 × 32
    assert_one_line_error(predict(small, "rgb", thin), 422, "elongated")


def test_the_server_survives_every_bad_upload(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    good = predict(client, "rgb", encoded(Image.fromarray(photo())))
    assert good.status_code == 200
    lines = client.get("/metrics").text.splitlines()
    assert not [line for line in lines if line.startswith("resnetlab_requests_total")
                and 'status="5' in line]


def exif_rotated() -> bytes:
    image = Image.fromarray(photo((64, 32), seed=3))
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    return encoded(image, "JPEG", exif=exif.tobytes(), quality=95)


def sixteen_bit() -> bytes:
    ramp = (np.arange(40 * 48, dtype=np.uint32).reshape(40, 48) * 34).astype(np.uint16)
    return encoded(Image.fromarray(ramp))


MODES = {
    "grey": lambda: encoded(Image.fromarray(photo()).convert("L")),
    "rgba": lambda: encoded(Image.fromarray(photo()).convert("RGBA")),
    "palette": lambda: encoded(Image.fromarray(photo()).convert("P")),
    "16-bit": sixteen_bit,
    "cmyk": lambda: encoded(Image.fromarray(photo()).convert("CMYK"), "JPEG", quality=95),
    "exif-rotated": exif_rotated,
}


@pytest.mark.parametrize("model_id", ["rgb", "grey"])
@pytest.mark.parametrize("mode", list(MODES))
def test_every_image_mode_gets_the_top_k_of_resnetlab_predict(client, model_dirs, tmp_path,
                                                               capsys, mode, model_id):
    data = MODES[mode]()
    suffix = ".jpg" if data[:2] == b"\xff\xd8" else ".png"
    path = tmp_path / f"{mode}{suffix}"
    path.write_bytes(data)
    served = predict(client, model_id, data, top_k=5)
    assert served.status_code == 200, served.text
    capsys.readouterr()
    assert main(["predict", str(model_dirs[model_id]), str(path), "--json", "-"]) == 0
    expected = json.loads(capsys.readouterr().out)[0]["top"]
    top = served.json()["top"]
    assert [t["label"] for t in top] == [t["label"] for t in expected]
    assert [t["probability"] for t in top] == pytest.approx(
        [t["probability"] for t in expected], abs=1e-6)


def test_file_and_bytes_decode_alike_with_exif_and_16_bit(tmp_path):
    for name, data in (("rotated.jpg", exif_rotated()), ("wide.png", sixteen_bit())):
        path = tmp_path / name
        path.write_bytes(data)
        for channels in (1, 3):
            assert decode_image(data, channels).equal(read_image(path, channels))
    rotated = decode_image(exif_rotated())
    assert rotated.shape == (3, 64, 32)  # stored 64 wide × 32 high, shown turned upright
    wide = decode_image(sixteen_bit(), 1)
    assert int(wide.max()) > 200 and int(wide.min()) == 0  # scaled, not clipped to white
