"""``resnetlab lab EXPERIMENT``: run one lab experiment, write results.json + PNGs, print a verdict.

Each experiment is its own sub-parser, so ``resnetlab lab degradation --help`` lists exactly
the options that experiment understands. The experiments live in :mod:`resnetlab.lab` (imported
only when one runs, so ``--help`` stays fast). ``--lang es`` (or ``RESNETLAB_LANG=es``) prints
the verdict and draws the figures in Spanish; the help stays in English.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from resnetlab import i18n
from resnetlab.commands import options

# What the lab-only options mean, the same in every experiment that takes them (each adds its
# default as a note).
_STEPS = "SGD steps of training"
_CHANNELS = "feature-map channels shown"


def _common(parser: argparse.ArgumentParser) -> None:
    options.add(parser, "--quick", "tiny data and short schedules; what the tests run")
    options.add_output(parser, "a directory; default: runs/lab/<experiment>",
                       overwrite="replace the results.json and figures of an earlier run")
    options.add(parser, "--seed", "default: 0", default=0)
    options.add(parser, "--lang", "of the verdict and the figures; the help stays English")


def _threads(parser: argparse.ArgumentParser, device: bool) -> None:
    options.add_runtime(parser, device=device, threads="default: 1 for --quick and batchnorm; "
                        "degradation picks 1 or all, or one net per core, whichever is "
                        "faster right now")


_FOUND = "the newest finished run under ./runs whose model (and --data) fit"


def _image(parser: argparse.ArgumentParser, model_default: str, fallback: str) -> None:
    options.add_model(parser, f"default: the found run's, else {model_default}; with --weights: "
                      "the run's own", f"trained weights to look into; default: {_FOUND}, "
                      f"else {fallback}")
    parser.add_argument("--image", metavar="PATH",
                        help="image file to use (default: the first test image of --data)")
    parser.add_argument("--index", type=options.whole_number, default=0, metavar="N",
                        help="which test image of --data (default 0)")


def _looking(p: argparse.ArgumentParser) -> None:
    """What features and residual share: a model (found run, or --untrained) and an image."""
    _image(p, "resnet18", "a random (untrained) network")
    p.add_argument("--untrained", action="store_true",
                   help="look into a randomly initialised network even if a trained run exists")
    options.add_data(p, "default: the data the model was trained on, else digits",
                     data_dir_note="default: where the model's run read it; not needed for "
                     "digits")


def _features(p: argparse.ArgumentParser) -> None:
    _looking(p)
    p.add_argument("--channels", type=options.whole_number, default=8, metavar="N",
                   help=f"{_CHANNELS} (default: 8 per stage)")
    _threads(p, device=False)


def _residual(p: argparse.ArgumentParser) -> None:
    _looking(p)
    p.add_argument("--block", default="layer2.0",
                   help="block to dissect, by module name (default layer2.0)")
    p.add_argument("--channels", type=options.whole_number, default=4, metavar="N",
                   help=f"{_CHANNELS} (default: 4)")
    _threads(p, device=False)


def _gradient_flow(p: argparse.ArgumentParser) -> None:
    options.add_data(p, "default: digits", data_dir_note="not needed for digits", default="digits")
    p.add_argument("--depths", type=options.whole_number, nargs="+", default=[20, 56, 110],
                   metavar="D",
                   help="depths 6n+2 of the plain and residual nets (default 20 56 110)")
    p.add_argument("--steps", type=options.whole_number, metavar="N",
                   help=f"{_STEPS} (before the second measurement; default 20; quick 1; 0: "
                   "init only)")
    options.add(p, "--batch-size", "default: 64; quick 8")
    options.add(p, "--lr", "plain SGD; default: 0.1", default=0.1)
    _threads(p, device=False)


def _degradation(p: argparse.ArgumentParser) -> None:
    options.add_data(p, "default: cifar10", data_dir_note="e.g. ~/data/cifar-10-batches-py",
                     default="cifar10")
    p.add_argument("--budget-minutes", type=options.finite_float, metavar="MINUTES",
                   help="wall-clock budget for all four nets and every seed; sets the common "
                   "number of iterations from the measured speed (default 25: the whole run "
                   "takes 23-25 min on an idle 2-core CPU; --quick: 8 iterations unless "
                   "given)")
    p.add_argument("--iterations", type=options.whole_number, metavar="N",
                   help=f"{_STEPS} per net (default: what fits --budget-minutes)")
    options.add(p, "--batch-size", "default: 128; quick 32")
    scale = p.add_argument_group("scaling (written into results.json and the figure)")
    options.add(scale, "--image-size", "N×N; default 16; 0: the data's own, the paper's 32")
    scale.add_argument("--width", type=options.whole_number, default=8, metavar="C",
                       help="channels of the first stage, doubled at each stage (default 8; "
                       "the paper's is 16)")
    scale.add_argument("--seeds", type=options.whole_number, default=1, metavar="K",
                       help="run the experiment with K seeds (--seed, --seed+1...); a claim "
                       "then needs all of them to agree (default 1)")
    options.add(scale, "--protocol", "ignores --budget-minutes and the scaling options")
    options.add(scale, "--force")
    p.add_argument("--jobs", type=options.whole_number, metavar="N",
                   help="nets trained at once, each in its own process (default: the planner "
                   "times 1 and one per core and keeps the faster; 1 with --iterations or "
                   "--threads)")
    _threads(p, device=True)


def _batchnorm(p: argparse.ArgumentParser) -> None:
    options.add_data(p, "default: fashion-mnist", default="fashion-mnist",
                     data_dir_note="e.g. ~/data/fashion-mnist/FashionMNIST/raw")
    p.add_argument("--iterations", type=options.whole_number, metavar="N",
                   help=f"{_STEPS} per net (default 1500; quick 40)")
    options.add(p, "--lr", "plain SGD; default: 1.0", default=1.0)
    options.add(p, "--batch-size", "default: 100", default=100)
    _threads(p, device=True)


def _gradcam(p: argparse.ArgumentParser) -> None:
    _image(p, "resnet20", "a resnet20 trained here on digits first")
    options.add_data(p, "default: the one the model was trained on",
                     data_dir_note="default: where the model's run read it; not needed for "
                     "digits")
    p.add_argument("--count", type=options.whole_number, default=4, metavar="N",
                   help="test images shown (default 4)")
    p.add_argument("--layer", help="layer to explain (default: the last stage)")
    p.add_argument("--steps", type=options.whole_number, metavar="N",
                   help=f"{_STEPS} (when no --weights are given; default 300; quick 30)")
    _threads(p, device=True)


def _depth(p: argparse.ArgumentParser) -> None:
    """No options of its own: the table comes from the model cards."""
    _threads(p, device=False)


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
    "degradation": ("Figure 6: plain-20/56 vs ResNet-20/56 training curves (~25 min)",
                    "Train plain-20, plain-56, ResNet-20 and ResNet-56 with the same recipe, "
                    "iterations and batches; answer the paper's two claims (deeper plain trains "
                    "worse, deeper ResNet trains better) against the noise measured in the run "
                    "(He et al. 2015, §4.2, Fig. 6). The default mode takes about 25 "
                    "minutes on a 2-core CPU; --protocol paper runs §4.2 unchanged (a GPU and "
                    "the full CIFAR-10).", _degradation),
    "batchnorm": ("LeNet-5 with and without BatchNorm",
                  "Per-iteration test accuracy of a sigmoid LeNet-5 with and without "
                  "BatchNorm (Ioffe & Szegedy 2015); the verdict says which reaches 70 % "
                  "sooner and which ends higher only beyond the curves' own noise. The default "
                  "mode takes about 4 minutes on a 2-core CPU.", _batchnorm),
    "gradcam": ("Grad-CAM heatmaps of a trained model",
                "Where a trained ResNet looks: Grad-CAM of the top class (Selvaraju et al. "
                "2017).", _gradcam),
    "depth": ("depth vs parameters vs MACs of the ResNet families",
              "Parameters and MACs of the ImageNet and CIFAR ResNets against depth, from the "
              "model cards.", _depth),
}

# Parsed attributes that are not keyword arguments of the experiment functions.
_NOT_OPTIONS = {"command", "experiment", "func", "quick", "out", "seed", "threads", "lang",
                "overwrite"}


def register(parser: argparse.ArgumentParser) -> None:
    """One sub-parser per experiment of ``resnetlab lab``."""
    parser.description = (
        "Run one experiment; it writes results.json and PNG figures into --out (default "
        "runs/lab/<experiment>) and prints a short verdict. --quick runs it on tiny data in "
        "seconds.")
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
    # The flag wins over RESNETLAB_LANG; either is checked before the experiment starts.
    lang = (i18n.check_language(args.lang, "--lang") if args.lang is not None
            else i18n.current_language())
    with i18n.language(lang):
        result, out = run_experiment(args.experiment, args.out, args.quick, args.seed,
                                     args.threads, overwrite=bool(args.overwrite), **options)
        for line in result.verdict:
            print(line)
        figures = ", ".join(p.name for p in result.figures)
        print(i18n._("wrote {results} and {figures}").format(results=out / "results.json",
                                                             figures=figures))
    return 0 if result.ok else 1
