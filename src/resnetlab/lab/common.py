"""What every lab experiment returns and how it lands on disk (``results.json`` + PNGs)."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnetlab.errors import ConfigError
from resnetlab.files import atomic_write_text
from resnetlab.i18n import _

RESULTS = "results.json"


@dataclass
class LabResult:
    """The outcome of one experiment.

    ``results`` are the experiment's own JSON fields, ``figures`` the PNGs it wrote (inside the
    output directory) and ``verdict`` the 1–4 lines printed to the user. The verdict and the
    figures' text are in the language of the run (:mod:`resnetlab.i18n`); ``results`` keep
    English keys and values whatever the language, so runs compare across languages.
    """

    experiment: str
    results: dict[str, Any]
    figures: list[Path] = field(default_factory=list)
    verdict: list[str] = field(default_factory=list)
    ok: bool = True  # False when an experiment's own check failed (the CLI then exits 1)


def default_out_dir(experiment: str) -> Path:
    """``runs/lab/<experiment>``, relative to the working directory."""
    return Path("runs") / "lab" / experiment


def prepare_out_dir(path: str | Path, overwrite: bool = False) -> tuple[Path, Path | None]:
    """Create the output directory; returns it and the topmost folder made for it (``None``
    if it existed), which a failed run removes.

    A directory holding the ``results.json`` of an earlier run is refused unless ``overwrite``
    (a ``--quick`` check must not silently replace an hour of real results); with it, the
    experiment's files are replaced and other files are left alone.
    """
    out = Path(path).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; pass a directory")
    if (out / RESULTS).exists() and not overwrite:
        raise ConfigError(f"{out} already holds the results of an earlier run ({RESULTS}); pass "
                          "--overwrite to replace them (overwrite=True in Python), or another "
                          "--out")
    made = [p for p in (out, *out.parents) if not p.exists()]
    out.mkdir(parents=True, exist_ok=True)
    return out, (made[-1] if made else None)


def _jsonable(value: Any) -> Any:
    """Plain JSON types; NaN/inf become null (JSON has no such numbers)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _jsonable(value.item())
    return value


def write_results(out_dir: Path, result: LabResult, *, quick: bool, seconds: float,
                  settings: dict[str, Any]) -> Path:
    """Write ``results.json``: run facts first, then the experiment's own fields."""
    payload = {
        "experiment": result.experiment,
        "quick": quick,
        "settings": settings,
        "seconds": round(seconds, 2),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "ok": result.ok,
        "verdict": result.verdict,
        "figures": [p.name for p in result.figures],
        **result.results,
    }
    path = out_dir / RESULTS
    # atomic: an interrupted --overwrite leaves the earlier results.json whole
    atomic_write_text(path, json.dumps(_jsonable(payload), indent=2) + "\n")
    return path


def sci(value: float | None, digits: int = 2) -> str:
    """Compact number for verdict lines (``3.1e+06``, ``0.42``); ``None`` prints as ``n/a``
    (translated)."""
    if value is None or not math.isfinite(value):
        return _("n/a")
    if value != 0 and (abs(value) >= 1e3 or abs(value) < 1e-2):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"
