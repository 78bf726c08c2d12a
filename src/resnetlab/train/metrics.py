"""Per-epoch metrics: kept in the checkpoint, mirrored to ``metrics.csv`` and TensorBoard.

The list of rows lives in every checkpoint and the CSV is rewritten from it atomically, so a
run killed between an epoch's checkpoint and its CSV write (or resumed mid-epoch) never ends
up with missing or duplicated rows.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from resnetlab.files import atomic_write_bytes

COLUMNS = (
    "epoch", "step", "lr", "train_loss", "train_acc", "val_loss", "val_acc",
    "test_loss", "test_acc", "epoch_seconds", "images_per_second", "elapsed_seconds",
)


class MetricsLog:
    """Rows of per-epoch metrics, a CSV file and an optional TensorBoard writer."""

    def __init__(self, run_dir: Path, rows: list[dict] | None = None,
                 tensorboard: bool = True) -> None:
        self.csv_path = Path(run_dir) / "metrics.csv"
        self.rows: list[dict] = list(rows or [])
        self._writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step drops events a killed run logged after its last checkpoint.
            self._writer = SummaryWriter(
                log_dir=str(Path(run_dir) / "tensorboard"), purge_step=len(self.rows) + 1
            )
        self.write_csv()

    def append(self, row: dict) -> None:
        """Record one epoch: CSV rewritten, scalars sent to TensorBoard."""
        self.rows.append(row)
        self.write_csv()
        if self._writer is not None:
            epoch = int(row["epoch"])
            for key, value in row.items():
                if key != "epoch" and value is not None and value != "":
                    self._writer.add_scalar(_tb_tag(key), float(value), epoch)
            self._writer.flush()

    def write_csv(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: _fmt(row.get(k)) for k in COLUMNS})
        atomic_write_bytes(self.csv_path, buf.getvalue().encode())

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _tag_split(key: str) -> tuple[str, str]:
    for prefix in ("train", "val", "test"):
        if key.startswith(prefix + "_"):
            return key[len(prefix) + 1:], prefix
    return key, ""


def _tb_tag(key: str) -> str:
    """``train_loss`` → ``loss/train`` so TensorBoard draws train and test on one chart."""
    metric, split = _tag_split(key)
    return f"{metric}/{split}" if split else f"run/{metric}"
