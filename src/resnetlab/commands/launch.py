"""``resnetlab launch``: torchrun for resnetlab, with one-line errors.

``resnetlab launch [TORCHRUN OPTIONS] train ...`` is exactly ``torchrun [TORCHRUN OPTIONS] -m
resnetlab train ...``: the options go to PyTorch's own launcher (``torch.distributed.run``), which
starts and supervises the workers. What the wrapper adds is error handling: torchrun reports an
unreachable rendezvous endpoint or a failed worker with its own multi-screen traceback, while
``launch`` prints one line naming the problem and the fix (the workers' own one-line errors are
printed above it).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from resnetlab.errors import ConfigError, ResnetlabError

# Sub-commands that train and so make sense under torchrun.
LAUNCHABLE = ("train", "finetune")


class LaunchError(ResnetlabError):
    """torchrun could not start or finish the job."""


def register(parser: argparse.ArgumentParser) -> None:
    """The help of ``resnetlab launch`` (its arguments are torchrun's, see :func:`run`)."""
    parser.description = (
        "Same as 'torchrun [OPTIONS] -m resnetlab COMMAND ...' (PyTorch's launcher does the "
        "work), but errors such as an unreachable --rdzv-endpoint are one line. Example: "
        "resnetlab launch --nproc-per-node 2 train --model resnet20 --data cifar10 --data-dir "
        "DIR --sync-bn. Every torchrun option works: --nnodes, --node-rank, --rdzv-backend, "
        "--rdzv-endpoint, --rdzv-id, --rdzv-conf, --max-restarts, --standalone ... (see "
        "'torchrun --help' and docs/distributed.md).")
    parser.usage = "resnetlab launch [TORCHRUN OPTIONS] {train,finetune} [ARGS ...]"
    # Only --help goes through this parser: resnetlab.cli.main hands every other ``launch``
    # command line to :func:`run` untouched, since torchrun's options are not ours to parse.
    parser.set_defaults(func=run, argv=[])


def split_argv(argv: list[str]) -> tuple[list[str], str, list[str]]:
    """``(torchrun options, command, command arguments)``; the command is the first
    :data:`LAUNCHABLE` word."""
    for i, word in enumerate(argv):
        if word in LAUNCHABLE:
            return argv[:i], word, argv[i + 1:]
    raise ConfigError("launch needs a command to run: resnetlab launch [TORCHRUN OPTIONS] "
                      f"{{{','.join(LAUNCHABLE)}}} ...; e.g. resnetlab launch --nproc-per-node 2 "
                      "train --model resnet20")


def torchrun_args(argv: list[str]) -> argparse.Namespace:
    """torchrun's parsed options for ``argv`` with ``-m resnetlab COMMAND ...`` as the job."""
    from torch.distributed.run import get_args_parser

    options, command, rest = split_argv(argv)
    parser = get_args_parser()
    parser.prog = "resnetlab launch"
    parser.error = _option_error  # type: ignore[method-assign]
    return parser.parse_args([*options, "--module", "resnetlab", command, *rest])


def _option_error(message: str) -> None:
    raise ConfigError(f"launch: {message} (see 'torchrun --help' for the options)")


def _first_line(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message (torch's carry C++ frames below it)."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _endpoint(args: argparse.Namespace) -> str:
    return args.rdzv_endpoint or f"{args.master_addr}:{args.master_port}"


# Set while the launcher re-runs itself with torch's C++ log quietened; holds the user's value.
_SAVED_LOG_LEVEL = "RESNETLAB_LAUNCH_CPP_LOG_LEVEL"


def _quiet_cpp_log(argv: list[str]) -> None:
    """Re-run this launcher with ``TORCH_CPP_LOG_LEVEL=FATAL``.

    torch's C++ store prints every failed connection attempt with a C++ stack trace; the level is
    read once when torch loads, so it has to be set before that. The workers get the user's own
    setting back (see :func:`run`)."""
    if _SAVED_LOG_LEVEL in os.environ:
        return
    env = dict(os.environ, TORCH_CPP_LOG_LEVEL="FATAL",
               **{_SAVED_LOG_LEVEL: os.environ.get("TORCH_CPP_LOG_LEVEL", "")})
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, "-m", "resnetlab", "launch", *argv], env)


def _restore_cpp_log() -> None:
    saved = os.environ.pop(_SAVED_LOG_LEVEL, "")
    if saved:
        os.environ["TORCH_CPP_LOG_LEVEL"] = saved
    else:
        os.environ.pop("TORCH_CPP_LOG_LEVEL", None)


def run(args: argparse.Namespace) -> int:
    """Parse torchrun's options and run the job under torchrun's elastic agent."""
    parsed = torchrun_args(list(args.argv))  # option errors before anything starts
    _quiet_cpp_log(list(args.argv))
    _restore_cpp_log()  # for the workers, which inherit this environment
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous.api import RendezvousError
    from torch.distributed.run import run as torchrun

    # torchrun's agent logs at WARNING and above; its rendezvous failures come back to us as
    # exceptions, which we turn into one line, so keep only its genuine errors.
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    # ...and its banner about OMP_NUM_THREADS=1 per worker (docs/distributed.md says so).
    logging.getLogger("torch.distributed.run").setLevel(logging.ERROR)
    try:
        torchrun(parsed)
    except RendezvousError as exc:
        reason = _first_line(exc.__cause__ or exc)
        raise LaunchError(
            f"could not join the rendezvous at {_endpoint(parsed)} ({reason}); check that "
            "--rdzv-endpoint is HOST:PORT of the node every machine can reach, that the port is "
            "open, and that every node uses the same --rdzv-id") from None
    except ChildFailedError as exc:
        codes = sorted({f.exitcode for f in exc.failures.values()})
        exited = [c for c in codes if c > 0]
        if exited:
            # A worker exited by itself: resnetlab workers print their own one-line error
            # (rank 0 only), so pass its exit code on without a second line.
            return exited[0]
        signals = ", ".join(str(-c) for c in codes)
        raise LaunchError(
            f"{len(exc.failures)} worker(s) were killed (signal {signals}) after "
            f"{parsed.max_restarts} restart(s); see their output above") from None
    return 0
