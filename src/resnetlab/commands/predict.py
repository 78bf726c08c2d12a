"""``resnetlab predict``: label and probability of image files under a trained model."""

from __future__ import annotations

import argparse
import json

from resnetlab.errors import ConfigError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "predict", help="classify image files with a trained model",
        description="Print the top-k labels and probabilities of each image. Images are "
        "decoded with PIL, resized to the model's input size and normalized with the "
        "statistics stored in model.json.")
    p.add_argument("model", metavar="RUN_DIR_OR_WEIGHTS")
    p.add_argument("images", metavar="IMAGE", nargs="+")
    p.add_argument("--top-k", type=int, default=5, help="labels to show per image")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--device", help="cpu, cuda or cuda:N")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from resnetlab.train.predict import predict_files

    if args.top_k < 1:
        raise ConfigError(f"--top-k must be >= 1, got {args.top_k}")
    predictions = predict_files(args.model, args.images, top_k=args.top_k, device=args.device)
    if args.json:
        print(json.dumps([{"image": p.path, "top": [{"label": lab, "probability": prob}
                                                    for lab, prob in p.top]}
                          for p in predictions], indent=2))
        return 0
    for p in predictions:
        others = ", ".join(f"{lab} {100 * prob:.1f}%" for lab, prob in p.top[1:])
        print(f"{p.path}: {p.label} ({100 * p.probability:.1f}%)"
              + (f"  [{others}]" if others else ""))
    return 0
