"""Calibration (and check) images for int8 quantization and export checks.

From an image folder (any layout; files are sampled with a fixed seed) or from a dataset by
name (``cifar10`` with ``--data-dir``), always preprocessed exactly as the model expects
(its ``model.json``), so the observed activation ranges are the ones seen in deployment.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from resnetlab.data import list_images, load
from resnetlab.deploy.images import load_images, preprocess
from resnetlab.errors import ConfigError

DEFAULT_COUNT = 500


def from_folder(directory: str | Path, meta: Mapping[str, Any], count: int = DEFAULT_COUNT,
                seed: int = 0) -> torch.Tensor:
    """Up to ``count`` images sampled (with ``seed``) from ``directory``, preprocessed."""
    paths = list_images(directory)
    if len(paths) > count:
        paths = sorted(random.Random(seed).sample(paths, count))
    images, _ = load_images(paths, meta)
    return images


def from_dataset(name: str, data_dir: str | Path | None, meta: Mapping[str, Any],
                 count: int = DEFAULT_COUNT, seed: int = 0, split: str = "train"
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` images (random with ``seed``) of a dataset split, preprocessed, and labels."""
    bundle = load(name, data_dir)
    dataset = getattr(bundle, split)
    if dataset is None or len(dataset) == 0:
        raise ConfigError(f"{name} has no {split} split to calibrate on; pick another")
    if len(dataset) > count:
        index = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:count]
        dataset = dataset.subset(index.sort().values)
    return preprocess(dataset.images, meta), dataset.labels


def calibration_images(meta: Mapping[str, Any], *, directory: str | Path | None = None,
                       dataset: str | None = None, data_dir: str | Path | None = None,
                       count: int = DEFAULT_COUNT, seed: int = 0) -> torch.Tensor:
    """Calibration images from ``directory`` or ``dataset`` (exactly one of the two)."""
    if (directory is None) == (dataset is None):
        raise ConfigError("int8 needs calibration images: pass --calibration-dir DIR or "
                          "--calibration-data NAME --data-dir DIR (one of them)")
    if count < 1:
        raise ConfigError(f"--num-calibration must be >= 1, got {count}")
    if directory is not None:
        return from_folder(directory, meta, count, seed)
    return from_dataset(dataset, data_dir, meta, count, seed)[0]
