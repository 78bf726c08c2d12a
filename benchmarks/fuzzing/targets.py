"""The real entry points a case runs, each with the check that an accepted input is correct.

A target takes string arguments (paths, values), calls resnetlab's own reader, and raises
``AssertionError`` when the result is wrong (a bug even though nothing crashed). A
:class:`~resnetlab.errors.ResnetlabError` it lets through is a user error; anything else a bug.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch

# The limit ``resnetlab serve`` puts on uploads (serve.config): decode_image is tried with it.
UPLOAD_MAX_PIXELS = 89_478_485


def _check_image(t: torch.Tensor, channels: int) -> None:
    assert t.dtype == torch.uint8 and t.dim() == 3, f"bad tensor {t.dtype} {tuple(t.shape)}"
    assert t.shape[0] == channels and t.shape[1] > 0 and t.shape[2] > 0, tuple(t.shape)


def read_image(path: str, channels: str = "3") -> None:
    from resnetlab.data.images import read_image as read
    _check_image(read(path, int(channels)), int(channels))


def decode_image(path: str, channels: str = "3") -> None:
    from resnetlab.data.images import decode_image as decode
    data = Path(path).read_bytes()
    _check_image(decode(data, int(channels), max_pixels=UPLOAD_MAX_PIXELS), int(channels))


def _check_dataset(ds, channels: int, classes: int) -> None:
    assert ds.images.dtype == torch.uint8 and ds.images.dim() == 4, ds.images.shape
    assert ds.images.shape[1] == channels and len(ds.images) == len(ds.labels) > 0
    assert int(ds.labels.min()) >= 0 and int(ds.labels.max()) < classes
    assert all(math.isfinite(float(v)) for v in (*ds.mean, *ds.std))


def load_cifar10(directory: str) -> None:
    from resnetlab.data.cifar import load_cifar10 as load
    for ds in load(directory):
        _check_dataset(ds, 3, 10)
        assert ds.images.shape[-2:] == (32, 32)


def read_idx(path: str) -> None:
    from resnetlab.data.mnist import read_idx as read
    array = read(path)
    assert array.ndim == Path(path).read_bytes()[3], "dimension count differs from the header"


def load_fashion_mnist(directory: str) -> None:
    from resnetlab.data.mnist import load_fashion_mnist as load
    for ds in load(directory):
        _check_dataset(ds, 1, 10)


def load_folder(directory: str) -> None:
    from resnetlab.data.folder import load_folder_splits
    train, test, _ = load_folder_splits(directory)
    for ds in (train, test):
        _check_dataset(ds, 3, len(train.classes))


def read_weights(path: str) -> None:
    from resnetlab.models.hub.statedict import read_file
    state = read_file(path)
    assert state and all(torch.is_tensor(v) for v in state.values())


def _check_model(model, meta) -> None:
    size = [int(s) for s in meta["input_size"]]
    with torch.no_grad():
        logits = model(torch.zeros(1, *size))
    assert logits.shape == (1, int(meta["num_classes"])), tuple(logits.shape)
    assert torch.isfinite(logits).all(), "accepted weights give non-finite outputs"


def load_model(path: str, model_name: str = "") -> None:
    from resnetlab.models.hub.loader import load_model as load
    _check_model(*load(path, model_name or None))


def load_checkpoint(path: str) -> None:
    from resnetlab.train.checkpoint import load_checkpoint as load
    assert isinstance(load(Path(path)), dict)


def predict(run: str, *images: str) -> None:
    from resnetlab.deploy.predict import predict_files
    for p in predict_files(run, list(images), top_k=3):
        assert all(0.0 <= prob <= 1.0 + 1e-6 for _, prob in p.top), p.top


def recipe(name: str, *pairs: str) -> None:
    from resnetlab.train.recipes import parse_assignments, resolve_recipe
    r = resolve_recipe(name, parse_assignments(pairs))
    assert r.epochs >= 0 and r.batch_size >= 0, r


def cli(*argv: str) -> int:
    """``resnetlab ARGV`` in this process: returns the exit code (argparse's SystemExit too)."""
    from resnetlab.cli import main
    try:
        return main(list(argv))
    except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else 1


TARGETS: dict[str, Callable[..., object]] = {f.__name__: f for f in (
    read_image, decode_image, load_cifar10, read_idx, load_fashion_mnist, load_folder,
    read_weights, load_model, load_checkpoint, predict, recipe, cli)}


def warm_up(run: str, image: str) -> None:
    """Import every module the targets use and run the slow first calls once, in the campaign
    process, so that each forked case starts warm (an import costs seconds, a case ms)."""
    import importlib

    for name in ("resnetlab.cli", "resnetlab.data", "resnetlab.deploy.predict",
                 "resnetlab.train.checkpoint", "resnetlab.train.recipes",
                 *(f"resnetlab.commands.{c}" for c in ("models", "summary", "recipes", "predict",
                                                       "embed", "eval", "data", "train",
                                                       "tutorials", "options"))):
        importlib.import_module(name)
    load_model(run)
    predict(run, image)
