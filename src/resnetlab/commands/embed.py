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
                       "embeddings.npy", default=Path("embeddings.npy"),
                       overwrite="replace an existing .npy and .txt")
    options.add(parser, "--strict")
    options.add(parser, "--engine", "default: eager", default="eager")
    parser.set_defaults(func=run)


def _targets(out: Path, overwrite: bool) -> tuple[Path, Path]:
    """The .npy and .txt to write; refused before any work if either exists (no --overwrite)."""
    if out.suffix != ".npy":
        raise ConfigError(f"--out {out} must end in .npy")
    listing = out.with_suffix(".txt")
    options.refuse_existing([out, listing], overwrite)
    return out, listing


def run(args: argparse.Namespace) -> int:
    """Embed every readable image; unreadable ones are skipped (and left out of the list)."""
    import sys

    import numpy as np
    import torch

    from resnetlab.data.images import list_images
    from resnetlab.deploy.engines import PooledFeatures, engine_for, exported_engine
    from resnetlab.deploy.images import preprocess, read_images, skipped_summary
    from resnetlab.files import atomic_write_files
    from resnetlab.models.hub.loader import load_model

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    kind = exported_engine(args.weights)
    if kind is not None:  # the file ends at the logits; the features before them are gone
        raise ConfigError(f"{args.weights} is an exported classifier, which ends at the "
                          "logits; embed needs the features before them: pass the run "
                          f"directory or weights it came from (with --engine {kind} to embed "
                          "on that engine)")
    out, listing = _targets(args.out.expanduser(), bool(args.overwrite))
    paths = list_images(args.directory)
    model, meta = load_model(args.weights, args.model)
    chunks, kept, skipped = [], [], []
    with engine_for(PooledFeatures(model).eval(), meta, args.engine) as embedder, \
            torch.inference_mode():
        for start in range(0, len(paths), args.batch_size):
            images, ok, bad = read_images(paths[start:start + args.batch_size],
                                          int(meta["input_size"][0]), strict=args.strict)
            skipped += bad
            if images:
                chunks.append(embedder(preprocess(images, meta)))
                kept += ok
    if not chunks:
        raise DataError(f"none of the {len(paths)} images under {args.directory} could be read; "
                        "pass a folder of valid image files")
    embeddings = torch.cat(chunks).float().numpy()
    root = args.directory.expanduser()
    # one atomic pair: a failure (disk full) leaves the earlier pair or none, never a torn .npy
    # nor a new .npy beside an old listing
    names = "".join(f"{p.relative_to(root)}\n" for p in kept).encode("utf-8")
    atomic_write_files({out: lambda fh: np.save(fh, embeddings),
                        listing: lambda fh: fh.write(names)})
    print(f"wrote {embeddings.shape[0]} embeddings of dimension {embeddings.shape[1]} to "
          f"{out} (file list: {listing})")
    if skipped:
        sys.stdout.flush()
        print(f"warning: {skipped_summary(skipped)} (--strict stops at the first)",
              file=sys.stderr)
    return 0
