"""``resnetlab embed SOURCE DIR --out emb.npy``: one feature vector per image."""

from __future__ import annotations

import argparse
from pathlib import Path

from resnetlab.commands import options
from resnetlab.errors import ConfigError, DataError


def register(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``resnetlab embed``."""
    parser.description = (
        "Run every image under DIR through a model up to its global pooling and save the pooled "
        "features as an N x D float32 .npy array, with the image paths (relative to DIR, one "
        "per line, same order) in a .txt file beside it.")
    options.add_model(parser, options.RAW_WEIGHTS_MODEL_NOTE, weights=False)
    options.add_weights_argument(parser, "weights")
    parser.add_argument("directory", metavar="DIR", type=Path, help="folder of images")
    options.add(parser, "--batch-size", "default: 64", default=64)
    options.add_output(parser, "a .npy file, the image list goes beside it as .txt; default: "
                       "embeddings.npy", default=Path("embeddings.npy"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Embed every readable image; unreadable ones are skipped (and left out of the list)."""
    import numpy as np
    import torch

    from resnetlab.data.images import list_images
    from resnetlab.deploy.images import load_images
    from resnetlab.models.hub.loader import load_model

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.out.suffix != ".npy":
        raise ConfigError(f"--out {args.out} must end in .npy")
    model, meta = load_model(args.weights, args.model)
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
