"""``resnetlab embed WEIGHTS DIR --out emb.npy``: one feature vector per image."""

from __future__ import annotations

import argparse
from pathlib import Path

from resnetlab.errors import ConfigError, DataError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``embed`` sub-command."""
    parser = subparsers.add_parser(
        "embed",
        help="write one embedding (pooled pre-logits features) per image",
        description=(
            "Run every image under DIR through a model up to its global pooling and save the "
            "pooled features as an N x D float32 .npy array, with the image paths (relative "
            "to DIR, one per line, same order) in a .txt file beside it."
        ),
    )
    parser.add_argument("weights", metavar="WEIGHTS",
                        help="run directory, weights file, URL or published tag")
    parser.add_argument("directory", metavar="DIR", type=Path, help="folder of images")
    parser.add_argument("--out", metavar="PATH", type=Path, default=Path("embeddings.npy"),
                        help="output .npy (default embeddings.npy); the list goes to PATH.txt")
    parser.add_argument("--model", metavar="NAME", help="architecture of raw weights")
    parser.add_argument("--batch-size", type=int, default=64, help="images per batch (64)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Embed every readable image; unreadable ones are skipped (and left out of the list)."""
    import numpy as np
    import torch

    from resnetlab.deploy.images import list_images, load_images
    from resnetlab.deploy.inference import load_for_inference

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.out.suffix != ".npy":
        raise ConfigError(f"--out {args.out} must end in .npy")
    model, meta = load_for_inference(args.weights, args.model)
    paths = list_images(args.directory)
    chunks, kept = [], []
    with torch.inference_mode():
        for start in range(0, len(paths), args.batch_size):
            x, ok = load_images(paths[start:start + args.batch_size], meta, require_any=False)
            if x is None:
                continue
            chunks.append(model.forward_head(model.forward_features(x), pre_logits=True))
            kept += ok
    if not chunks:
        raise DataError(f"none of the {len(paths)} images under {args.directory} could be read; "
                        "pass a folder of valid image files")
    embeddings = torch.cat(chunks).float().numpy()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, embeddings)
    listing = args.out.with_suffix(".txt")
    root = args.directory.expanduser()
    listing.write_text("".join(f"{p.relative_to(root)}\n" for p in kept))
    print(f"wrote {embeddings.shape[0]} embeddings of dimension {embeddings.shape[1]} to "
          f"{args.out} (file list: {listing})")
    return 0
