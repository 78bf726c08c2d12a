"""Speed on the machine at hand: stock PyTorch against resnetlab's fast paths, in one run.

>>> from resnetlab.bench import QUICK, run_bench, render
>>> print(render(run_bench(QUICK)))          # doctest: +SKIP

``resnetlab bench`` runs the same from the command line; ``--levers`` measures each
optimization alone. Results and their analysis are in docs/benchmarks.md, "Speed".
"""

from resnetlab.bench.inference import ENGINES, Engine, build_engine
from resnetlab.bench.levers import run_levers
from resnetlab.bench.machine import Machine, detect, has_native_bf16
from resnetlab.bench.report import render
from resnetlab.bench.suite import FULL, QUICK, BenchConfig, quick_config, run_bench, write_json
from resnetlab.bench.timing import Stats, alternate, speedup
from resnetlab.bench.training import STOCK, TrainPath, bench_step, resnetlab_path

__all__ = [
    "ENGINES",
    "FULL",
    "QUICK",
    "STOCK",
    "BenchConfig",
    "Engine",
    "Machine",
    "Stats",
    "TrainPath",
    "alternate",
    "build_engine",
    "detect",
    "has_native_bf16",
    "quick_config",
    "render",
    "resnetlab_path",
    "run_bench",
    "run_levers",
    "speedup",
    "bench_step",
    "write_json",
]
