"""``resnetlab data info|export-folder``: look at a dataset, or write it out as PNG folders."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
from PIL import Image

from resnetlab.commands import options
from resnetlab.data import ImageDataset, load
from resnetlab.errors import ConfigError


def register(parser: argparse.ArgumentParser) -> None:
    """The ``info`` and ``export-folder`` actions of ``resnetlab data``."""
    parser.description = (
        "Inspect a dataset (sizes, classes, normalization statistics) or export one split as "
        "PNG files in one folder per class, the layout '--data folder' reads.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True

    info = actions.add_parser("info", help="print sizes, classes and mean/std",
                              description="Load a dataset and print what a model needs to know.")
    options.add_data(info, data_dir_note="not needed for digits", download=True, required=True)
    info.set_defaults(func=run_info)

    export = actions.add_parser(
        "export-folder", help="write a split as OUT/<class>/<index>.png",
        description="Write the images of one split as PNG files, one sub-folder per class; "
        "file names are the images' indices in the split.")
    options.add_data(export, data_dir_note="not needed for digits", download=True, required=True)
    options.add(export, "--split", "train or test; default: train", default="train")
    export.add_argument("--classes", nargs="+", metavar="C",
                        help="class indices or names to export (default: all)")
    export.add_argument("--max-per-class", type=options.whole_number, metavar="N",
                        help="export at most the first N images of each class")
    options.add_output(export, "a directory", required=True,
                       overwrite="files of the same name are replaced, none are deleted")
    export.set_defaults(func=run_export)


def _format_stats(values: tuple[float, ...]) -> str:
    return " ".join(f"{v:.4f}" for v in values)


def run_info(args: argparse.Namespace) -> int:
    """Print the facts of one dataset."""
    bundle = load(args.data, args.data_dir, download=args.download)
    c, h, w = bundle.input_size
    print(f"dataset     {bundle.name}")
    print(f"input size  {c} x {h} x {w}")
    print(f"classes     {bundle.num_classes}: {', '.join(bundle.classes)}")
    for split, ds in bundle.splits().items():
        counts = ds.class_counts().tolist()
        print(f"{split:<11} {len(ds)} images (per class {min(counts)}..{max(counts)})")
    print(f"mean        {_format_stats(bundle.mean)}")
    print(f"std         {_format_stats(bundle.std)}")
    return 0


def _select_classes(requested: list[str] | None, classes: list[str]) -> list[int]:
    if not requested:
        return list(range(len(classes)))
    chosen = []
    for item in requested:
        if item.isdigit() and int(item) < len(classes):
            chosen.append(int(item))
        elif item in classes:
            chosen.append(classes.index(item))
        else:
            raise ConfigError(f"--classes {item!r} is neither an index below {len(classes)} nor "
                              f"a class name; classes are: {', '.join(classes)}")
    return sorted(set(chosen))


def folder_name(class_name: str) -> str:
    """A portable directory name for a class (``T-shirt/top`` -> ``T-shirt_top``)."""
    return re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", class_name).strip(" .") or "_"


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; pass a directory")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"--out {out} is not empty; choose an empty directory or pass "
                          "--overwrite")
    out.mkdir(parents=True, exist_ok=True)


def export_folder(
    ds: ImageDataset, out: Path, class_ids: list[int], max_per_class: int | None = None
) -> int:
    """Write the images of ``class_ids`` as ``out/<class>/<index>.png``; returns how many."""
    width = len(str(max(len(ds) - 1, 0)))
    written = 0
    for label in class_ids:
        folder = out / folder_name(ds.classes[label])
        folder.mkdir(parents=True, exist_ok=True)
        members = (ds.labels == label).nonzero().flatten().tolist()
        for index in members[:max_per_class]:
            pixels = ds.images[index].permute(1, 2, 0).numpy()
            if pixels.shape[2] == 1:  # grey images as mode "L", not a 1-channel RGB
                pixels = pixels[:, :, 0]
            Image.fromarray(np.ascontiguousarray(pixels)).save(folder / f"{index:0{width}d}.png")
            written += 1
    return written


def run_export(args: argparse.Namespace) -> int:
    """Export one split as PNG folders."""
    if args.max_per_class is not None and args.max_per_class < 1:
        raise ConfigError(f"--max-per-class must be at least 1, got {args.max_per_class}")
    if args.split == "val":
        raise ConfigError("--split val: a dataset on disk has train and test splits only (runs "
                          "carve their validation split from train); use --split train or test")
    bundle = load(args.data, args.data_dir, download=args.download)
    ds = bundle.train if args.split == "train" else bundle.test
    class_ids = _select_classes(args.classes, ds.classes)
    out = Path(args.out).expanduser()
    _prepare_out(out, args.overwrite)
    written = export_folder(ds, out, class_ids, args.max_per_class)
    print(f"wrote {written} images of {len(class_ids)} classes ({bundle.name} {args.split}) "
          f"to {out}")
    return 0
