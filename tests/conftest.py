"""Fixtures shared by the tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

# The repository root, so tests can import the hostile-input makers of `benchmarks.fuzzing`
# (one definition for the campaign, the benchmarks and the tests).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and a busy machine cannot stall it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True, scope="module")
def restore_threads():
    """Commands given ``--threads N`` set torch's thread count for the process; each test
    module starts again from the count it found."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def no_runs_of_the_developer(tmp_path_factory, monkeypatch):
    """The lab looks for trained runs under ./runs (resnetlab.lab.runs); a test must not find
    the runs a developer or an earlier test left in the working directory. Tests of that
    lookup set RUNS_ROOT themselves."""
    import resnetlab.lab.runs as lab_runs

    monkeypatch.setattr(lab_runs, "RUNS_ROOT", tmp_path_factory.mktemp("no-runs") / "runs")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def serve_process(tmp_path):
    """``start(*args) -> (process, url)``: a real ``python -m resnetlab serve ARGS`` on a free
    port of 127.0.0.1, returned once ``/readyz`` answers 200 (the test fails with the server's
    output if it exits or takes over ``timeout`` seconds). Processes still running at the end
    of the test are killed."""
    started: list[subprocess.Popen] = []

    def start(*args: str, cwd=None, env=None, timeout: float = 120):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "resnetlab", "serve", *args, "--port", str(port)],
            cwd=cwd or tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                out, err = process.communicate()
                pytest.fail(f"'resnetlab serve' exited with {process.returncode}:\n{out}{err}")
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                    if response.status == 200:
                        return process, url
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"'resnetlab serve' was not ready within {timeout:g} s")
            time.sleep(0.1)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


# A real (if briefly) trained model and real images for it: what the deploy tests run.
@pytest.fixture(scope="module")
def digits_run_dir(tmp_path_factory):
    """A real (if briefly) trained model: one epoch of resnet20 on the 8x8 digits."""
    from resnetlab.cli import main

    out = tmp_path_factory.mktemp("digits") / "digits-run"
    assert main(["train", "--data", "digits", "--image-size", "8", "--epochs", "1",
                 "--batch-size", "64", "--threads", "1", "--quiet", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def digits_test():
    """The digits' test split at 8x8, as the trained model sees it."""
    from resnetlab.data import load

    return load("digits", image_size=(8, 8)).test


@pytest.fixture(scope="module")
def digit_pngs(tmp_path_factory, digits_test):
    """The first 12 test digits as PNG files."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("pngs")
    for i in range(12):
        Image.fromarray(digits_test.images[i][0].numpy(), mode="L").save(folder / f"{i:02d}.png")
    return folder
