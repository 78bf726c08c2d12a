"""Surfaces that read data: single images, CIFAR batches, IDX files, image folders."""

from __future__ import annotations

import pickle
import random
import shutil
from pathlib import Path

import numpy as np

from benchmarks.fuzzing.case import Case
from benchmarks.fuzzing.hostile import code_pickle, odd_json_value
from benchmarks.fuzzing.mutate import mutate
from benchmarks.fuzzing.seeds import Seeds

_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".ppm", ".txt")


def _hostile_image(rng: random.Random, seeds: Seeds) -> tuple[bytes, str]:
    """A seed image as it is (a third of the time) or mutated."""
    name = rng.choice(sorted(seeds.images))
    data = seeds.images[name]
    if rng.random() < 0.3:
        return data, f"seed {name}"
    data, how = mutate(rng, data, list(seeds.images.values()))
    return data, f"{how} of {name}"


def _image_name(rng: random.Random, note: str) -> str:
    seed_name = note.rsplit(" ", 1)[-1]
    ext = Path(seed_name).suffix if rng.random() < 0.8 else rng.choice(_EXTENSIONS)
    stem = rng.choice(["img", "a photo", "fötö", "日本", "x" * 60, "-dash"])
    return stem + ext


def image(rng: random.Random, seeds: Seeds, case: Case) -> None:
    data, case.note = _hostile_image(rng, seeds)
    path = case.inputs / _image_name(rng, case.note)
    path.write_bytes(data)
    roll = rng.random()
    if roll < 0.55:
        case.target, case.args = "read_image", [str(path), rng.choice(["1", "3"])]
    elif roll < 0.85:
        case.target, case.args = "decode_image", [str(path), rng.choice(["1", "3"])]
    else:
        case.target, case.args = "predict", [str(seeds.run), str(path)]


def _cifar_structural(rng: random.Random, seeds: Seeds, case: Case) -> bytes:
    """A batch pickle with wrong keys, dtypes, shapes or labels."""
    batch = pickle.loads(seeds.cifar["data_batch_1"], encoding="bytes")
    kind = rng.randrange(6)
    if kind == 0:
        batch.pop(rng.choice([b"data", b"labels"]))
    elif kind == 1:
        batch[b"data"] = batch[b"data"].astype(rng.choice([np.float32, np.int64, np.uint16]))
    elif kind == 2:
        batch[b"data"] = batch[b"data"].reshape(rng.choice([(-1,), (-1, 32, 32, 3), (-1, 1024)]))
    elif kind == 3:
        batch[b"labels"] = rng.choice([[1, 2], [-1] * 24, [10**6] * 24, "abc", None, [[1]] * 24])
    elif kind == 4:
        batch[rng.choice([b"data", b"labels"])] = odd_json_value(rng)
    else:
        batch = rng.choice([[1, 2, 3], "text", None, 42, {"data": 1}])
    case.note = f"structural kind {kind}"
    return pickle.dumps(batch, protocol=rng.choice([0, 2, 4, 5]))


def cifar(rng: random.Random, seeds: Seeds, case: Case) -> None:
    directory = case.inputs / "cifar-10-batches-py"
    directory.mkdir()
    files = dict(seeds.cifar)
    victim = rng.choice(sorted(files))
    roll = rng.random()
    if roll < 0.1:
        files[victim] = code_pickle(case.marker, rng.randrange(6), rng.choice([0, 2, 4]))
        case.note = f"code-executing pickle as {victim}"
    elif roll < 0.4:
        files[victim] = _cifar_structural(rng, seeds, case) if victim != "batches.meta" else \
            pickle.dumps({b"label_names": odd_json_value(rng)})
        case.note += f" in {victim}"
    elif roll < 0.9:
        files[victim], how = mutate(rng, files[victim], list(seeds.cifar.values()))
        case.note = f"{how} of {victim}"
    else:
        case.note = "seed batches"
    for name, data in files.items():
        (directory / name).write_bytes(data)
    case.target, case.args = "load_cifar10", [str(directory)]


def _idx_structural(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    kind = rng.randrange(4)
    if kind == 0:
        return bytes([rng.randrange(256), 0, rng.randrange(256), data[3]]) + data[4:], "magic"
    if kind == 1:
        return data[:3] + bytes([rng.choice([0, 1, 2, 4, 255])]) + data[4:], "ndim"
    if kind == 2:
        count = rng.choice([0, 1, 23, 25, 2**31, 2**32 - 1])
        return data[:4] + count.to_bytes(4, "big") + data[8:], f"count {count}"
    return data[:2] + bytes([rng.choice([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E])]) + data[3:], "type"


def idx(rng: random.Random, seeds: Seeds, case: Case) -> None:
    directory = case.inputs / "raw"
    directory.mkdir()
    files = dict(seeds.idx)
    victim = rng.choice(sorted(files))
    roll = rng.random()
    if roll < 0.4:
        files[victim], how = _idx_structural(rng, files[victim])
    elif roll < 0.9:
        files[victim], how = mutate(rng, files[victim], list(seeds.idx.values()))
    else:
        how = "seed"
    case.note = f"{how} of {victim}"
    for name, data in files.items():
        (directory / name).write_bytes(data)
    if rng.random() < 0.5:
        case.target, case.args = "read_idx", [str(directory / victim)]
    else:
        case.target, case.args = "load_fashion_mnist", [str(directory)]


def folder(rng: random.Random, seeds: Seeds, case: Case) -> None:
    root = case.inputs / "photos"
    classes = rng.sample(["cat", "dog", "a b", "ünï", "日本", ".hidden", "-x"], rng.randint(1, 4))
    quirks = []
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(rng.choice([0, 1, 3, 6])):
            data, _ = _hostile_image(rng, seeds) if rng.random() < 0.3 else \
                (seeds.images["rgb.png"], "")
            (root / name / f"{i} {name}.png").write_bytes(data)
    if rng.random() < 0.2:
        (root / classes[0] / "notes.txt").write_text("not an image")
        quirks.append("non-image file")
    if rng.random() < 0.15:
        (root / classes[0] / "loop").symlink_to(root, target_is_directory=True)
        quirks.append("symlink loop")
    if rng.random() < 0.1:
        (root / classes[-1] / "dangling.png").symlink_to(root / "nowhere.png")
        quirks.append("dangling link")
    if rng.random() < 0.01:  # a folder of its own: mixed sizes would be resized to 224 x 224
        shutil.rmtree(root)
        tiny = seeds.images["one.png"]
        for i in range(10_000):
            (root / f"class {i % 2}").mkdir(parents=True, exist_ok=True)
            (root / f"class {i % 2}" / f"{i}.png").write_bytes(tiny)
        quirks = ["10,000 tiny files"]
    case.note = f"{len(classes)} classes " + ", ".join(quirks)
    roll = rng.random()
    if roll < 0.8:
        case.target, case.args = "load_folder", [str(root)]
    elif roll < 0.9:
        case.target = "cli"
        case.args = ["embed", str(seeds.run), str(root), "--out",
                     str(case.directory / "out" / "emb.npy")]
    else:
        case.target, case.args = "predict", [str(seeds.run), str(root)]
