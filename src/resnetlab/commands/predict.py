"""``resnetlab predict``: label and probability of image files under a trained model."""

from __future__ import annotations

import argparse

from resnetlab.commands import options
from resnetlab.errors import ConfigError


def register(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``resnetlab predict``."""
    parser.description = (
        "Print the top-k labels and probabilities of each image. The model is a run directory, "
        "a saved .safetensors with model.json, raw torchvision/timm weights (ImageNet class "
        "names and preprocessing for a 1000-class model), a URL, a published tag, or a .onnx / "
        ".xml written by 'resnetlab export' (run on its own engine). Images are "
        "decoded with PIL and get the model's own evaluation transform. A folder stands for every "
        "image under it; an unreadable image is skipped with a warning (--strict: exit 1), a "
        "missing path or no readable image at all is an error.")
    options.add_weights_argument(parser, "source", exported=True)
    parser.add_argument("images", metavar="IMAGE", nargs="+",
                        help="image files, or folders of them, to classify")
    options.add_model(parser, options.RAW_WEIGHTS_MODEL_NOTE, weights=False)
    parser.add_argument("--top-k", type=options.whole_number, default=5, metavar="K",
                        help="labels to show per image (default: 5)")
    options.add_json(parser, "one entry per image")
    options.add(parser, "--strict")
    options.add_runtime(parser)
    options.add(parser, "--engine", "default: eager", default="eager")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from resnetlab.deploy.images import skipped_summary
    from resnetlab.deploy.predict import predict_paths

    if args.top_k < 1:
        raise ConfigError(f"--top-k must be >= 1, got {args.top_k}")
    predictions, skipped = predict_paths(args.source, args.images, top_k=args.top_k,
                                         model_name=args.model, device=args.device,
                                         strict=args.strict, engine=args.engine)
    if args.json:
        options.write_json([{"image": p.path, "top": [{"label": lab, "probability": prob}
                                                      for lab, prob in p.top]}
                            for p in predictions], args.json)
    if args.json != "-":
        for p in predictions:
            others = ", ".join(f"{lab} {100 * prob:.1f}%" for lab, prob in p.top[1:])
            print(f"{p.path}: {p.label} ({100 * p.probability:.1f}%)"
                  + (f"  [{others}]" if others else ""))
    if skipped:  # the summary comes last, where it is read; stderr, so --json - stays JSON
        sys.stdout.flush()
        print(f"warning: {skipped_summary(skipped)} (--strict stops at the first)",
              file=sys.stderr)
    return 0
