"""What a case's result means: accepted, a user error, or a bug (and why).

A user error is a :class:`~resnetlab.errors.ResnetlabError` with a one-line message (library
cases), or exit code 1, 2 or 3 with exactly one ``error: ...`` line on stderr and no traceback
(CLI cases), as docs/cli.md documents. Everything else is a bug: a traceback, another exit code,
a multi-line error, a wrong accepted result, a hang, running out of memory, a killed process,
code run from a pickle, a file written outside the output directory or an existing file changed.
"""

from __future__ import annotations

from dataclasses import dataclass

ACCEPTED, USER_ERROR, BUG = "accepted", "user error", "bug"
OUTCOMES = (ACCEPTED, USER_ERROR, BUG)
USER_EXIT_CODES = (1, 2, 3)  # data/weights problem, usage/bad value, diverged


@dataclass
class Outcome:
    """The class of one case and, for a bug, what was wrong."""

    kind: str
    reason: str = ""
    detail: str = ""


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def classify(result: dict, stderr: str, fs_problems: list[str]) -> Outcome:
    """Classify the child's ``result`` (see runner), its stderr and the file-system checks."""
    if fs_problems:
        return Outcome(BUG, fs_problems[0], "\n".join(fs_problems))
    status = result.get("status")
    if status in ("hang", "killed", "crash", "wrong"):
        return Outcome(BUG, result.get("reason", status), result.get("detail", ""))
    if "Traceback (most recent call last)" in stderr:
        return Outcome(BUG, "traceback on stderr", stderr[-4000:])
    if status == "returned":
        return Outcome(ACCEPTED)
    if status == "error":
        message = result["message"]
        if "\n" in message or not message.strip():
            return Outcome(BUG, "user error not on one line", message)
        if result["exit_code"] not in USER_EXIT_CODES:
            return Outcome(BUG, f"user error with exit code {result['exit_code']}", message)
        return Outcome(USER_ERROR, message[:200])
    if status == "cli":
        rc, errors = result["rc"], _error_lines(stderr)
        if rc == 0:
            return Outcome(ACCEPTED)
        if rc in USER_EXIT_CODES and len(errors) == 1:
            return Outcome(USER_ERROR, errors[0][:200])
        return Outcome(BUG, f"exit code {rc} with {len(errors)} 'error:' line(s)", stderr[-4000:])
    return Outcome(BUG, f"unknown result {status!r}", str(result))
