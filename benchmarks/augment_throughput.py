"""Augmentation throughput (images/s): resnetlab's batched Augment vs per-image torchvision v2.

Both apply the CIFAR recipe (4-pixel zero-pad random crop, horizontal flip, normalize) to the
shared CIFAR-10 subset in batches of 128, in one run on the same machine.

    .venv/bin/python benchmarks/augment_throughput.py [--device cuda] [--data-dir DIR] [--threads N]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torchvision.transforms import v2

from resnetlab.data import Augment, load

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-subset"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(step: Callable[[int], object], batches: int, batch_size: int,
            device: torch.device, repeats: int) -> float:
    """Best-of-``repeats`` images per second of ``step(batch_index)`` over ``batches`` calls."""
    step(0)  # warm-up: lazy CUDA init, allocator, kernel selection
    _sync(device)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for b in range(batches):
            step(b)
        _sync(device)
        best = max(best, batches * batch_size / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    device = torch.device(args.device)
    train = load("cifar10", args.data_dir).train
    images = train.images.to(device)
    bs = args.batch_size
    batches = len(images) // bs
    augment = Augment(pad=4, flip=True).with_stats(train.mean, train.std)

    def batched(b: int) -> torch.Tensor:
        generator = torch.Generator(device=device).manual_seed(b)
        return augment(images[b * bs : (b + 1) * bs], generator)

    per_image = v2.Compose([
        v2.RandomCrop(32, padding=4),
        v2.RandomHorizontalFlip(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(list(train.mean), list(train.std)),
    ])

    def stock(b: int) -> torch.Tensor:
        return torch.stack([per_image(img) for img in images[b * bs : (b + 1) * bs]])

    ours = measure(batched, batches, bs, device, args.repeats)
    baseline = measure(stock, batches, bs, device, args.repeats)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(f"device: {device} ({where or platform.machine()}), torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, batch {bs}, {batches * bs} CIFAR images")
    print(f"resnetlab Augment (batched):        {ours:12,.0f} img/s")
    print(f"torchvision v2 per image (stacked): {baseline:12,.0f} img/s")
    print(f"speed-up: {ours / baseline:.1f}x")


if __name__ == "__main__":
    main()
