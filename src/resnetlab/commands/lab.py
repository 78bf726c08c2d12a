"""``resnetlab lab EXPERIMENT``: run one lab experiment, write results.json + PNGs, print a verdict.

Each experiment is its own sub-parser, so ``resnetlab lab degradation --help`` lists exactly
the options that experiment understands. The experiments live in :mod:`resnetlab.lab` (imported
only when one runs, so ``--help`` stays fast).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

SHARED_DIRS = {
    "cifar10": "../shared/data/cifar10-subset/cifar-10-batches-py",
    "fashion-mnist": "../shared/data/fashion-mnist-subset/FashionMNIST/raw",
}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="tiny data and short schedules (seconds; what the tests run)")
    parser.add_argument("--out", metavar="DIR",
                        help="output directory (default: runs/lab/<experiment>)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="torch CPU threads (default: 1 for --quick and batchnorm; "
                             "degradation picks 1 or all, whichever is faster right now)")


def _data(parser: argparse.ArgumentParser, default: str | None, note: str = "") -> None:
    parser.add_argument("--data", default=default, metavar="NAME",
                        help=f"dataset (cifar10, fashion-mnist, mnist, digits...; default "
                             f"{default or 'the one the model was trained on'}){note}")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="directory of the dataset's files (not needed for digits)")


def _image(parser: argparse.ArgumentParser, model_default: str) -> None:
    parser.add_argument("--model", metavar="NAME",
                        help=f"registered model (default {model_default}; with --weights: the "
                             "run's own)")
    parser.add_argument("--weights", metavar="RUN_OR_FILE",
                        help="trained weights: a run directory, model.safetensors with "
                             "model.json, or published weights (default: random init)")
    parser.add_argument("--image", metavar="PATH",
                        help="image file to use (default: the first test image of --data)")
    parser.add_argument("--index", type=int, default=0,
                        help="which test image of --data (default 0)")


def _device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", help="cpu, cuda, cuda:N (default: CUDA when available)")


def _features(p: argparse.ArgumentParser) -> None:
    _image(p, "resnet18")
    _data(p, "digits")
    p.add_argument("--channels", type=int, default=8, help="channels shown per stage (8)")


def _residual(p: argparse.ArgumentParser) -> None:
    _image(p, "resnet18")
    _data(p, "digits")
    p.add_argument("--block", default="layer2.0",
                   help="block to dissect, by module name (default layer2.0)")
    p.add_argument("--channels", type=int, default=4, help="channels shown (4)")


def _gradient_flow(p: argparse.ArgumentParser) -> None:
    _data(p, "digits")
    p.add_argument("--depths", type=int, nargs="+", default=[20, 56, 110], metavar="D",
                   help="depths 6n+2 of the plain and residual nets (default 20 56 110)")
    p.add_argument("--steps", type=int,
                   help="SGD steps before the second measurement (default 20; quick 1; 0: "
                        "init only)")
    p.add_argument("--batch-size", type=int, help="batch size (default 64; quick 8)")
    p.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (0.1)")


def _degradation(p: argparse.ArgumentParser) -> None:
    _data(p, "cifar10", f" - e.g. --data-dir {SHARED_DIRS['cifar10']}")
    p.add_argument("--budget-minutes", type=float, default=18.0,
                   help="wall-clock budget for all four nets; sets the common number of "
                        "iterations (default 18)")
    p.add_argument("--iterations", type=int, help="iterations per net (overrides the budget)")
    p.add_argument("--batch-size", type=int, help="batch size (default 128; quick 32)")
    _device(p)


def _batchnorm(p: argparse.ArgumentParser) -> None:
    _data(p, "fashion-mnist", f" - e.g. --data-dir {SHARED_DIRS['fashion-mnist']}")
    p.add_argument("--iterations", type=int, help="SGD steps per net (default 1500; quick 40)")
    p.add_argument("--lr", type=float, default=1.0, help="SGD learning rate (1.0)")
    p.add_argument("--batch-size", type=int, default=100, help="batch size (100)")
    _device(p)


def _gradcam(p: argparse.ArgumentParser) -> None:
    _image(p, "resnet20, trained here on digits")
    _data(p, None)
    p.add_argument("--count", type=int, default=4, help="test images shown (default 4)")
    p.add_argument("--layer", help="layer to explain (default: the last stage)")
    p.add_argument("--steps", type=int,
                   help="training steps when no --weights are given (default 300; quick 30)")
    _device(p)


def _depth(p: argparse.ArgumentParser) -> None:
    """No options: the table comes from the model cards."""


# name → (help, description, argument builder)
EXPERIMENTS: dict[str, tuple[str, str, Callable[[argparse.ArgumentParser], None]]] = {
    "features": ("feature maps of an image through the stem and each stage",
                 "The first channels of every stage's output for one image (He et al. 2015, "
                 "§3.3).", _features),
    "residual": ("anatomy of one block: x, F(x), S(x), F(x)+S(x), output",
                 "Dissect one residual block and check forward == post(F(x) + S(x)) "
                 "(He et al. 2015, §3.1-3.2).", _residual),
    "gradient-flow": ("per-layer gradient norms of plain vs residual nets",
                      "Gradient norms of every conv at init and after a few SGD steps, for "
                      "plain and residual nets of several depths (He et al. 2015, §4.1).",
                      _gradient_flow),
    "degradation": ("Figure 6: plain-20/56 vs ResNet-20/56 training curves",
                    "Train plain-20, plain-56, ResNet-20 and ResNet-56 with the same recipe "
                    "and iterations; compare training and test error (He et al. 2015, §4.2, "
                    "Fig. 6).", _degradation),
    "batchnorm": ("LeNet-5 with and without BatchNorm",
                  "Per-iteration test accuracy of a sigmoid LeNet-5 with and without "
                  "BatchNorm (Ioffe & Szegedy 2015).", _batchnorm),
    "gradcam": ("Grad-CAM heatmaps of a trained model",
                "Where a trained ResNet looks: Grad-CAM of the top class (Selvaraju et al. "
                "2017).", _gradcam),
    "depth": ("depth vs parameters vs MACs of the ResNet families",
              "Parameters and MACs of the ImageNet and CIFAR ResNets against depth, from the "
              "model cards.", _depth),
}

# Parsed attributes that are not keyword arguments of the experiment functions.
_NOT_OPTIONS = {"command", "experiment", "func", "quick", "out", "seed", "threads"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``lab`` sub-command and one sub-parser per experiment."""
    parser = subparsers.add_parser(
        "lab",
        help="experiments that show what residual networks do (figures + verdict)",
        description="Run one experiment; it writes results.json and PNG figures into --out "
                    "(default runs/lab/<experiment>) and prints a short verdict. --quick runs "
                    "it on tiny data in seconds.",
    )
    experiments = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT",
                                        parser_class=type(parser))
    experiments.required = True
    for name, (help_text, description, build) in EXPERIMENTS.items():
        sub = experiments.add_parser(name, help=help_text, description=description)
        _common(sub)
        build(sub)
        sub.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the chosen experiment and print its verdict (2-5 lines)."""
    from resnetlab.lab import run_experiment

    options = {k: v for k, v in vars(args).items() if k not in _NOT_OPTIONS}
    if "depths" in options:
        options["depths"] = tuple(options["depths"])
    result, out = run_experiment(args.experiment, args.out, args.quick, args.seed, args.threads,
                                 **options)
    for line in result.verdict:
        print(line)
    figures = ", ".join(p.name for p in result.figures)
    print(f"wrote {out / 'results.json'} and {figures}")
    return 0 if result.ok else 1
