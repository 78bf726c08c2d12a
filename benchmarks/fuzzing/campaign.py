"""The campaign: cases spread over the surfaces, run, counted; bugs kept with a reproducer."""

from __future__ import annotations

import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.fuzzing import surfaces_argv, surfaces_data, surfaces_model
from benchmarks.fuzzing.case import Case, new_case
from benchmarks.fuzzing.classify import BUG, OUTCOMES, Outcome
from benchmarks.fuzzing.runner import run_case, snapshot
from benchmarks.fuzzing.seeds import Seeds, make_seeds
from benchmarks.fuzzing.targets import warm_up

SURFACES: dict[str, Callable[[random.Random, Seeds, Case], None]] = {
    "image": surfaces_data.image,
    "cifar": surfaces_data.cifar,
    "idx": surfaces_data.idx,
    "folder": surfaces_data.folder,
    "weights": surfaces_model.weights,
    "model.json": surfaces_model.model_json,
    "checkpoint": surfaces_model.checkpoint,
    "recipe": surfaces_model.recipe,
    "argv": surfaces_argv.argv,
}


@dataclass
class Report:
    """Counts per surface and outcome, the bugs found, and how long it took."""

    counts: dict[str, Counter] = field(default_factory=dict)
    bugs: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    examples: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, case: Case, outcome: Outcome) -> None:
        self.counts.setdefault(case.surface, Counter())[outcome.kind] += 1
        self.examples.setdefault(case.surface, {}).setdefault(outcome.kind, outcome.reason)

    def table(self) -> str:
        """A Markdown table: surface x cases x outcome counts."""
        lines = ["| surface | cases | " + " | ".join(OUTCOMES) + " |",
                 "|---|---:|" + "---:|" * len(OUTCOMES)]
        total = Counter()
        for surface, counts in self.counts.items():
            total.update(counts)
            lines.append(f"| {surface} | {sum(counts.values())} | "
                         + " | ".join(str(counts[o]) for o in OUTCOMES) + " |")
        lines.append(f"| **all** | {sum(total.values())} | "
                     + " | ".join(str(total[o]) for o in OUTCOMES) + " |")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"seconds": round(self.seconds, 1), "bugs": self.bugs,
                "counts": {s: {o: c[o] for o in OUTCOMES} for s, c in self.counts.items()}}


def _keep_bug(case: Case, outcome: Outcome, out: Path) -> dict:
    """Move the case to ``out/bugs/<surface>-<n>`` and write its reproducer there."""
    dest = out / "bugs" / case.directory.name
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(case.directory), dest, copy_function=shutil.copy)
    command = case.command().replace(str(case.directory), str(dest))
    bug = {"surface": case.surface, "case": case.number, "note": case.note,
           "reason": outcome.reason, "command": command, "directory": str(dest)}
    (dest / "bug.json").write_text(json.dumps({**bug, "detail": outcome.detail}, indent=2))
    (dest / "command.txt").write_text(command + "\n")
    return bug


def run_campaign(cases: int, seed: int, work: Path, out: Path,
                 surfaces: list[str] | None = None,
                 progress: Callable[[int, Report], None] | None = None) -> Report:
    """Run ``cases`` cases round-robin over ``surfaces`` (default: all) from ``seed``."""
    import torch

    torch.set_num_threads(1)  # one thread: forking a process with a thread pool is fragile
    names = surfaces or list(SURFACES)
    seeds = make_seeds(work / "seeds")
    image = work / "warm.png"
    image.write_bytes(seeds.images["grey.png"])
    warm_up(str(seeds.run), str(image))
    watched = [(seeds.root, snapshot(seeds.root))]
    cases_root = work / "cases"
    report, start = Report(), time.monotonic()
    for i in range(cases):
        surface = names[i % len(names)]
        rng = random.Random(f"{seed}:{surface}:{i}")
        if cases_root.exists():
            shutil.rmtree(cases_root)
        case = new_case(surface, i, cases_root)
        SURFACES[surface](rng, seeds, case)
        outcome = run_case(case, watched)
        stray = sorted(p.name for p in cases_root.iterdir() if p != case.directory)
        if stray and outcome.kind != BUG:
            outcome = Outcome(BUG, f"files written outside the output directory: {stray[:3]}")
        report.add(case, outcome)
        if outcome.kind == BUG:
            report.bugs.append(_keep_bug(case, outcome, out))
            watched = [(seeds.root, snapshot(seeds.root))]  # blame only the case that did it
        if progress is not None:
            progress(i + 1, report)
    shutil.rmtree(cases_root, ignore_errors=True)
    report.seconds = time.monotonic() - start
    return report
