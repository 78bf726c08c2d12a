"""What a run shows while it trains: a tqdm bar on a terminal, one line per epoch otherwise."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, s = divmod(seconds, 60)
    h, m = divmod(minutes, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class Progress:
    """Step-level bar (loss, accuracy, images/s, ETA) when stderr is a terminal; otherwise, and
    unless ``quiet``, a summary line per epoch on stdout (logs stay readable in CI/nohup)."""

    def __init__(self, total_steps: int, initial_step: int, batch_size: int,
                 quiet: bool = False) -> None:
        self.quiet = quiet
        self.total, self.start_step = total_steps, initial_step
        self.started = time.perf_counter()
        self.bar = None
        if not quiet and sys.stderr.isatty():
            self.bar = tqdm(total=total_steps, initial=initial_step, unit="step",
                            dynamic_ncols=True, leave=False, file=sys.stderr)

    def update(self, step: int, epoch: int, counters: dict) -> None:
        if self.bar is None:
            return
        seen = max(1, counters["seen"])
        self.bar.set_description(f"epoch {epoch + 1}", refresh=False)
        self.bar.set_postfix(
            loss=f"{counters['loss_sum'] / seen:.3f}",
            acc=f"{100.0 * counters['correct'] / seen:.1f}%",
            img_s=f"{counters['seen'] / max(counters['seconds'], 1e-9):.0f}",
            refresh=False,
        )
        self.bar.update(step - self.bar.n)

    def retarget(self, total_steps: int) -> None:
        """A re-planned run has a new end: the bar and the ETA follow it."""
        if total_steps == self.total:
            return
        self.total = total_steps
        if self.bar is not None:
            self.bar.total = total_steps
            self.bar.refresh()

    def epoch_done(self, row: dict, epochs: int) -> None:
        if self.quiet:
            return
        parts = [f"epoch {row['epoch']}/{epochs}", f"loss {row['train_loss']:.4f}",
                 f"train {100 * row['train_acc']:.1f}%"]
        for split in ("val", "test"):
            if row.get(f"{split}_acc") is not None:
                parts.append(f"{split} {100 * row[f'{split}_acc']:.2f}%")
        parts.append(f"lr {row['lr']:.3g}")
        if row.get("images_per_second"):
            parts.append(f"{row['images_per_second']:.0f} img/s")
        done = row["step"] - self.start_step
        if done > 0 and row["step"] < self.total:
            rate = (time.perf_counter() - self.started) / done
            parts.append(f"eta {_duration(rate * (self.total - row['step']))}")
        line = "  ".join(parts)
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
