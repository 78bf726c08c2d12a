"""One fuzz case: its inputs on disk and the target it runs, reproducible from its seed."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Case:
    """What to run (``target`` from :data:`targets.TARGETS` with ``args``) and what to check.

    ``directory`` holds ``in/`` (inputs, must not change), ``out/`` and ``work/`` (where output
    may go) and ``MARKER`` (must never appear: code-executing pickles would create it).
    ``keep`` are existing files that the case must leave unchanged.
    """

    surface: str
    number: int
    directory: Path
    target: str = ""
    args: list[str] = field(default_factory=list)
    note: str = ""
    keep: list[Path] = field(default_factory=list)

    @property
    def inputs(self) -> Path:
        return self.directory / "in"

    @property
    def marker(self) -> Path:
        return self.directory / "MARKER"

    def command(self) -> str:
        """A shell line that reruns the case (CLI cases as ``resnetlab ...``)."""
        if self.target == "cli":
            return "resnetlab " + shlex.join(self.args)
        call = f"from benchmarks.fuzzing.targets import {self.target}; {self.target}" \
               f"(*{self.args!r})"
        return f"python -c {shlex.quote(call)}"


def new_case(surface: str, number: int, root: Path) -> Case:
    """An empty case under ``root/<surface>-<number>`` with its in/out/work folders."""
    directory = root / f"{surface}-{number}"
    for sub in ("in", "out", "work", "home"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    return Case(surface, number, directory)
