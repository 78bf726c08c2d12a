"""Drawing a figure must not choose matplotlib's backend: a notebook that trains a model or runs
a lab experiment keeps its inline plots (``matplotlib.use("Agg")`` at import would switch them
off for the rest of the session)."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import sys
from pathlib import Path
import matplotlib
import torch
import resnetlab.lab, resnetlab.lab.plotting, resnetlab.train.plots as plots
out = Path(sys.argv[1])
plots.plot_curves([{"epoch": 1, "train_loss": 1.0, "test_acc": 0.5}], out / "curves.png")
plots.plot_confusion(torch.eye(3, dtype=torch.long), ["a", "b", "c"], out / "confusion.png")
fig = resnetlab.lab.plotting.new_figure(figsize=(2, 2))
fig.subplots().plot([0, 1])
resnetlab.lab.plotting.save(fig, out / "lab.png")
print(matplotlib.get_backend())
"""


def test_figures_are_saved_without_touching_the_backend(tmp_path):
    env = {**os.environ, "MPLBACKEND": "svg"}  # stands in for a notebook's inline backend
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], env=env,
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip().lower() == "svg"
    for name in ("curves.png", "confusion.png", "lab.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
