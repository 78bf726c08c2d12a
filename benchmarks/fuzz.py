"""The reliability campaign: hostile inputs through every surface resnetlab reads, counted.

    python benchmarks/fuzz.py --cases 5000 --seed 1 [--surface image] [--json out.json]

Each case is classified as accepted, a one-line user error, or a bug (docs/reliability.md);
bugs are saved under ``--out/bugs/<surface>-<n>/`` with their input and a ``command.txt`` that
reruns them. Exits 1 when any bug was found.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks` as a package

from benchmarks.fuzzing.campaign import SURFACES, run_campaign  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300, help="number of cases (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    parser.add_argument("--surface", action="append", choices=list(SURFACES),
                        help="only this surface (repeatable; default: all)")
    parser.add_argument("--json", type=Path, help="write counts and bugs as JSON here")
    parser.add_argument("--out", type=Path, default=Path("runs/fuzz"),
                        help="where bug reproducers go (default runs/fuzz)")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)

    def progress(done: int, report) -> None:
        if done % 250 == 0 or done == args.cases:
            bugs = len(report.bugs)
            print(f"{done}/{args.cases} cases, {bugs} bug(s)", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="resnetlab-fuzz-") as tmp:
        work = args.work or Path(tmp)
        report = run_campaign(args.cases, args.seed, work, args.out, args.surface, progress)
    print(report.table())
    print(f"\n{sum(sum(c.values()) for c in report.counts.values())} cases in "
          f"{report.seconds:.0f} s, seed {args.seed}; {len(report.bugs)} bug(s)")
    for bug in report.bugs:
        print(f"BUG {bug['surface']} #{bug['case']} ({bug['note']}): {bug['reason']}\n"
              f"    {bug['command']}")
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return 1 if report.bugs else 0


if __name__ == "__main__":
    sys.exit(main())
