"""The explorer page in a real browser: `resnetlab serve` on a freshly trained digits run, driven
by Playwright through Debian's Chromium (headless).

One test walks the page as a student would: upload a digit, read the top-k, look at the
Grad-CAM map of two classes and at the feature maps, dissect a residual block, switch to
Spanish, pick a test image, then drop an image on a phone-sized screen. The images the page
shows are decoded here and must not be blank; no element may stick out of the screen.

Screenshots go to the test's tmp dir; with ``RESNETLAB_SCREENSHOTS=DIR`` (e.g. ``docs/img``)
they are also written there as ``serve-desktop-en.png``, ``serve-desktop-es.png`` and
``serve-phone.png``, and the run trains for 12 epochs instead of 1, so that the pictures show
a model that has learned something and curves with more than one point (the checks are the
same). Chromium missing is a failure, not a skip: CI installs it (``.ci/run``).
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from resnetlab.cli import main

CHROMIUM = Path("/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 60_000  # one CPU analysis of an 8 × 8 digit takes well under a second
DIGIT_INDEX = 5
SCREENSHOTS = os.environ.get("RESNETLAB_SCREENSHOTS")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("serve-browser") / "digits-run"
    epochs = "12" if SCREENSHOTS else "1"
    main(["train", "--data", "digits", "--image-size", "8", "--epochs", epochs, "--batch-size",
          "64", "--threads", "1", "--quiet", "--out", str(out)])
    return out


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    """A real handwritten digit of the test split, enlarged to 64 × 64 as a user's file."""
    from resnetlab.data import load

    test = load("digits").test
    path = tmp_path_factory.mktemp("serve-browser-input") / "digit.png"
    pixels = test.images[DIGIT_INDEX, 0].numpy()
    Image.fromarray(pixels).resize((64, 64), Image.NEAREST).save(path)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serving(run: Path, log_dir: Path, *extra: str):
    """`resnetlab serve RUN` in a subprocess on a free port; yields its base URL once ready."""
    port = _free_port()
    log_path = log_dir / f"serve-{port}.log"
    cmd = [sys.executable, "-m", "resnetlab", "serve", str(run),
           "--host", "127.0.0.1", "--port", str(port), "--threads", "1", *extra]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"'resnetlab serve' exited with {proc.returncode}:\n"
                            f"{log_path.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail("'resnetlab serve' was not ready within 120 s:\n"
                            f"{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def server(digits_run, tmp_path_factory):
    with _serving(digits_run, tmp_path_factory.mktemp("serve-browser-log")) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing ({CHROMIUM}): the explorer page is tested in a real "
                    "browser; install it with 'apt-get install chromium' (Debian/Ubuntu)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[test]' (never "
                    "'playwright install': the test uses Debian's chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@pytest.fixture
def shots(tmp_path):
    """save(page, name): a PNG in tmp_path, and in $RESNETLAB_SCREENSHOTS if set."""
    extra = SCREENSHOTS

    def save(page, name: str, full_page: bool = True, publish: bool = True) -> Path:
        path = tmp_path / f"serve-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if extra and publish:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(extra) / path.name)
        return path

    return save


def _pixels(data_url: str) -> np.ndarray:
    head, _, payload = data_url.partition(",")
    assert head == "data:image/png;base64", head[:40]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(payload))).convert("RGB"))


def _assert_not_blank(data_url: str, what: str) -> None:
    pixels = _pixels(data_url)
    assert pixels.shape[0] >= 8 and pixels.shape[1] >= 8, (what, pixels.shape)
    assert pixels.std() > 5, f"{what} is blank (pixel std {pixels.std():.2f})"


def _open_page(browser, url: str, viewport: dict, locale: str):
    context = browser.new_context(viewport=viewport, locale=locale)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda m: problems.append(f"console: {m.text}")
            if m.type == "error" else None)
    page.goto(url + "/")
    page.wait_for_selector("#model-card dd")
    return context, page, problems


def _wait_for_analysis(page) -> None:
    page.wait_for_selector("#topk li button")
    page.wait_for_selector("#gradcam-figure:not([hidden])")
    page.wait_for_selector("#features figure img")
    page.wait_for_selector("#residual-result:not([hidden])")
    page.wait_for_function("!document.body.hasAttribute('aria-busy')")


def _sticking_out(page) -> list[str]:
    """Elements whose box leaves the screen sideways (a wide table scrolls inside its box)."""
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const out = [];
        for (const el of document.querySelectorAll("body *")) {
            if (el.closest(".table-wrap, .visually-hidden, .skip-link, dialog")) continue;
            const r = el.getBoundingClientRect();
            if (r.width === 0 || r.height === 0) continue;
            if (r.left < -1 || r.right > width + 1) {
                out.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className}`);
            }
        }
        if (document.documentElement.scrollWidth > width) out.push("page scrolls sideways");
        return out;
    }""")


def _formula_value(text: str) -> tuple[int, int]:
    """'16 × 1 × 3 × 3 = 144' -> (144 computed from the factors, 144 written)."""
    left, _, right = text.partition("=")
    product = 1
    for factor in left.split("×"):
        product *= int(factor.strip().replace(",", ""))
    return product, int(right.strip().replace(",", ""))


def test_explorer_page_explains_a_digit_in_english_and_spanish_on_desktop_and_phone(
        server, browser, digit_png, shots):
    context, page, problems = _open_page(browser, server, DESKTOP, "en-US")
    assert page.get_attribute("html", "lang") == "en"

    # The model card and the per-layer table with each row's formula, as course notes write it.
    assert page.inner_text("#model-name") == "resnet20"
    assert page.is_hidden("#untrained-badge")
    page.click("#expand-all")
    conv = page.locator("table.layers tr:has(td:text-is('Conv2d')) td.formula").first.inner_text()
    bn = page.locator("table.layers tr:has(td:text-is('BatchNorm2d')) td.formula")
    bn = bn.first.inner_text()
    assert conv.startswith("16 × 1 × 3 × 3"), conv  # stem conv: 16 filters of 1 × 3 × 3
    for formula in (conv, bn):
        computed, written = _formula_value(formula)
        assert computed == written, formula
    assert bn == "16 × 2 = 32"
    page.click("#collapse-all")
    page.click("details.stage >> nth=0 >> summary")  # the stem stays open for the screenshot
    assert page.locator("details.stage[open]").count() == 1

    # Upload a real digit: top-k, Grad-CAM, feature maps and the first block's anatomy.
    page.set_input_files("#file-input", str(digit_png))
    _wait_for_analysis(page)
    bars = page.locator("#topk .bar")
    assert bars.count() == 5
    probabilities = [float(bars.nth(i).get_attribute("data-probability")) for i in range(5)]
    assert all(t.endswith("%") for t in page.locator("#topk .bar-value").all_inner_texts())
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0.49 <= sum(probabilities) <= 1.001  # the 5 most likely of 10 classes
    assert bars.first.get_attribute("aria-pressed") == "true"  # the map shows the top class
    _assert_not_blank(page.get_attribute("#gradcam-image", "src"), "the Grad-CAM overlay")
    stages = page.locator("#features img")
    assert stages.count() == 4  # stem, layer1, layer2, layer3 of ResNet-20
    for i in range(stages.count()):
        _assert_not_blank(stages.nth(i).get_attribute("src"), f"feature map {i}")

    # The Grad-CAM map of the second most likely class: click its bar.
    second = bars.nth(1)
    index = second.get_attribute("data-index")
    second.click()
    page.wait_for_selector(f"#gradcam-figure[data-class-index='{index}']")
    assert second.get_attribute("aria-pressed") == "true"
    _assert_not_blank(page.get_attribute("#gradcam-image", "src"), "the second Grad-CAM")

    # The anatomy of a block with a downsampling shortcut, picked from the list.
    blocks = page.locator("#block-select option").all_inner_texts()
    assert blocks[0] == "layer1.0" and "layer2.0" in blocks, blocks
    page.select_option("#block-select", "layer2.0")
    page.wait_for_selector("#residual-result[data-block='layer2.0']")
    diff = float(page.get_attribute("#residual-diff", "data-value"))
    assert diff <= 1e-6, f"F(x) + S(x) rebuilt differs from the block's output by {diff}"
    assert page.inner_text("#residual-diff").strip()
    assert page.get_attribute("#residual-allclose", "data-value") == "true"
    assert page.inner_text("#residual-allclose") == "yes (allclose)"
    _assert_not_blank(page.get_attribute("#residual-image", "src"), "the residual panels")

    # The run's training curves are drawn (a point per epoch and series).
    page.wait_for_selector("#curves svg.chart circle")
    assert page.locator("#curves figure").count() == 3  # loss, accuracy, learning rate
    assert _sticking_out(page) == []
    shots(page, "desktop-en")

    # Spanish without reloading: headings, labels, number format.
    page.click("button[data-lang='es']")
    assert page.get_attribute("html", "lang") == "es"
    assert page.inner_text("#image-heading") == "Prueba con una imagen"
    assert page.inner_text("#residual-heading") == "Anatomía de un bloque residual"
    assert "(feature maps)" in page.inner_text("#image-section")
    assert page.inner_text("#residual-allclose") == "sí (allclose)"
    assert "," in page.locator("#topk .bar-value").first.inner_text()  # 27,6 %, not 27.6 %
    # A test image of the run's dataset, picked from the list.
    page.locator("#samples .sample").first.click()
    page.wait_for_selector("#input-caption:text('Imagen de test 0')")
    _wait_for_analysis(page)
    assert _sticking_out(page) == []
    shots(page, "desktop-es")
    context.close()
    assert problems == []

    # A phone: the image is dropped on the drop zone.
    context, page, problems = _open_page(browser, server, PHONE, "en-GB")
    payload = base64.b64encode(digit_png.read_bytes()).decode()
    page.evaluate("""(b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], "digit.png", { type: "image/png" }));
        const zone = document.getElementById("dropzone");
        for (const type of ["dragenter", "dragover", "drop"]) {
            zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true,
                                                     cancelable: true }));
        }
    }""", payload)
    _wait_for_analysis(page)
    page.wait_for_selector("#curves svg.chart")
    assert _sticking_out(page) == []
    shots(page, "phone-full", publish=False)
    page.evaluate("document.querySelector('.topk-col').scrollIntoView()")  # top-k, then CAM
    shots(page, "phone", full_page=False)
    context.close()
    assert problems == []


def test_explorer_page_asks_once_for_the_token_of_a_protected_server(
        digits_run, browser, tmp_path):
    with _serving(digits_run, tmp_path, "--token", "s3cret-token") as url:
        context = browser.new_context(viewport=DESKTOP, locale="es-ES")
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url + "/")
        page.wait_for_selector("#token-dialog[open]")
        assert page.inner_text("#token-heading") == "Token de acceso"
        page.fill("#token-input", "wrong")
        page.keyboard.press("Enter")
        page.wait_for_selector("#token-error:not([hidden])")  # refused: asked again, said so
        page.fill("#token-input", "s3cret-token")
        page.keyboard.press("Enter")
        page.wait_for_selector("#model-card dd")
        assert page.evaluate("sessionStorage.getItem('resnetlab-token')") == "s3cret-token"
        page.reload()  # the same tab keeps the token: no second question
        page.wait_for_selector("#model-card dd")
        assert page.is_hidden("#token-dialog")
        context.close()
