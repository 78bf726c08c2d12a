"""``resnetlab bench``: training and inference speed, stock PyTorch vs resnetlab, in one run."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path

from resnetlab.commands import options
from resnetlab.errors import ConfigError


def register(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``resnetlab bench``."""
    parser.description = (
        "Time the stock baseline (eager fp32 PyTorch; torchvision's model where one exists) and "
        "resnetlab's fast paths alternately, several repeats, and print median, spread and "
        "speed-up of training images/s, inference images/s and batch-1 latency, with peak "
        "memory. The full run takes about 10 minutes on 2 CPU cores; --quick takes seconds. On "
        "a shared machine set OMP_WAIT_POLICY=PASSIVE (see docs/benchmarks.md).")
    options.add(parser, "--quick", "resnet20, small batches, 2 repeats")
    parser.add_argument("--levers", action="store_true",
                        help="instead, measure each optimization alone against the stock "
                        "baseline")
    parser.add_argument("--repeats", type=options.whole_number, metavar="N",
                        help="timed repeats per case (default 3, quick 2)")
    parser.add_argument("--min-seconds", type=options.finite_float, metavar="SECONDS",
                        help="each timing calls the case for at least this long (default 1)")
    parser.add_argument("--train-models", nargs="*", metavar="NAME",
                        help="training models (default resnet20 resnet56 resnet18_cifar)")
    parser.add_argument("--infer-models", nargs="*", metavar="NAME:SIZE",
                        help="inference models with input size (default resnet50:224 "
                        "resnet18:224 resnet20:32)")
    parser.add_argument("--engines", nargs="*", metavar="ENGINE",
                        help="inference engines to try: eager channels_last fold_bn "
                        "jit_freeze compile bf16 onnx onnx_int8 openvino (default "
                        "channels_last compile onnx onnx_int8; see resnetlab.bench.inference)")
    options.add(parser, "--compile", "bench: one more training case to time; slow to compile")
    parser.add_argument("--no-profile", action="store_true", help="skip the torch.profiler tables")
    options.add_runtime(parser, device=False,
                        threads="default: torch's, one per core; restored after")
    options.add_json(parser, "the report; progress lines go to stderr")
    options.add(parser, "--overwrite", "of an earlier --json PATH report")
    options.add(parser, "--quiet", "no progress lines")
    parser.set_defaults(func=run)


def _infer_models(specs: list[str]) -> tuple[tuple[str, int], ...]:
    out = []
    for spec in specs:
        name, _, size = spec.partition(":")
        if not size.isdigit():
            raise ConfigError(f"--infer-models expects NAME:SIZE, got {spec!r}; "
                              "e.g. resnet50:224")
        out.append((name, int(size)))
    return tuple(out)


def _config(args: argparse.Namespace):
    from resnetlab.bench import FULL, QUICK

    cfg = QUICK if args.quick else FULL
    changes = {}
    if args.repeats is not None:
        changes["repeats"] = args.repeats
    if args.min_seconds is not None:
        changes["min_seconds"] = args.min_seconds
    if args.train_models is not None:
        changes["train_models"] = tuple(args.train_models)
    if args.infer_models is not None:
        changes["infer_models"] = _infer_models(args.infer_models)
    if args.engines is not None:
        changes["engines"] = tuple(args.engines)
    if args.compile:
        changes["train_compile"] = True
    if args.no_profile:
        changes["profile"] = False
    return replace(cfg, **changes).validate()


def _check_models(cfg) -> None:
    from resnetlab.models import list_models

    known = set(list_models())
    for name in [*cfg.train_models, *(n for n, _ in cfg.infer_models)]:
        if name not in known:
            raise ConfigError(f"unknown model {name!r}; list them with 'resnetlab models'")


def run(args: argparse.Namespace) -> int:
    command = "resnetlab " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] \
        else "resnetlab bench"

    def log(line: str) -> None:
        if not args.quiet:
            print(f"[bench] {line}", file=sys.stderr, flush=True)

    if args.json and args.json != "-":  # refused before minutes of measuring, not after
        options.refuse_existing([Path(args.json).expanduser()], args.overwrite)
    cfg = _config(args)
    _check_models(cfg)
    _warn_if_busy()
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    import torch

    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        report = _measure(args, cfg, command, log)
    finally:
        torch.set_num_threads(threads)  # callers in the same process keep their setting
    if args.json == "-":
        options.write_json(report, args.json)
    elif args.json:
        log(f"report written to {options.write_json(report, args.json)}")
    return 0


def _warn_if_busy() -> None:
    """Spinning OpenMP threads slow down many times over when other processes share the
    cores (measured in docs/benchmarks.md); say so, since the figures would mislead."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > (os.cpu_count() or 1) and "OMP_WAIT_POLICY" not in os.environ:
        print(f"warning: the machine is busy (load {load:.1f} on {os.cpu_count()} cores) and "
              "OMP_WAIT_POLICY is unset; torch's spinning threads will be slowed by the other "
              "processes - run with OMP_WAIT_POLICY=PASSIVE or --threads 1", file=sys.stderr)


def _measure(args: argparse.Namespace, cfg, command: str, log) -> dict:
    from resnetlab.bench import render, run_bench, run_levers
    from resnetlab.bench.report import levers_table

    if args.levers:
        # The first training model and the first inference model, each lever alone.
        report = run_levers(train_model=cfg.train_models[0], train_batch=cfg.train_batch,
                            infer_model=cfg.infer_models[0], infer_batch=cfg.infer_batch,
                            engines=cfg.engines if args.engines or args.quick else (),
                            repeats=cfg.repeats, min_seconds=cfg.min_seconds,
                            compile=not args.quick, wait_policy=not args.quick, log=log,
                            command=command)
        text = levers_table(report["levers"]) + "\n"
    else:
        report = run_bench(cfg, log=log, command=command)
        text = render(report)
    if args.json != "-":  # with --json -, stdout is the JSON alone
        print(text, end="")
    return report
