"""The GPU check's report as plain-text tables, one per section, for a person to read."""

from __future__ import annotations

from typing import Any

MIB = 2**20


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _median(entry: dict[str, Any], key: str) -> float | None:
    return (entry.get(key) or {}).get("median")


def _mib(entry: dict[str, Any]) -> str:
    peak = entry.get("peak_bytes")
    return "n/a" if peak is None else f"{peak / MIB:,.0f}"


def _case(head: str, e: dict[str, Any], middle: str) -> str:
    """One measured case: ``head``, img/s, ``middle`` columns, speed-up, peak memory; or why
    it was skipped."""
    if "skipped" in e:
        return f"{head} skipped: {e['skipped']}"
    return (f"{head} {_num(_median(e, 'images_per_second')):>10s} {middle} "
            f"{_num(_median(e, 'speedup'), 2):>8s} {_mib(e):>9s}")


def _lines_training(section: dict[str, Any]) -> list[str]:
    header = (f"{'model':15s} {'rung':42s} {'img/s':>10s} {'build s':>8s} {'x stock':>8s} "
              f"{'peak MiB':>9s}")
    return [header] + [_case(f"{row['model']:15s} {label:42s}", e,
                             f"{_num(e.get('build_seconds'), 1):>8s}")
                       for row in section["models"] for label, e in row["rungs"].items()]


def _lines_accuracy(s: dict[str, Any]) -> list[str]:
    out = [f"{s['model']} on {s['train_images']} training images, {s['budget_seconds']:.0f} s "
           f"each, test top-1 on {s['test_images']}:",
           f"{'recipe':8s} {'top-1 %':>8s} {'wall s':>8s} {'epochs':>8s} {'steps':>7s}"]
    for key in ("stock", "fast"):
        r = s[key]
        if "skipped" in r:
            out.append(f"{key:8s} skipped: {r['skipped']}")
            continue
        out.append(f"{key:8s} {100 * r['test_top1']:8.2f} {r['wall_seconds']:8.1f} "
                   f"{r['epochs']:8.1f} {r['steps']:7d}")
    if s["fast_minus_stock"] is not None:
        out.append(f"fast - stock: {100 * s['fast_minus_stock']:+.2f} points")
    return out


def _lines_inference(s: dict[str, Any]) -> list[str]:
    title = f"{s['model']} at {s['image_size']} px (baseline: {s['baseline']})"
    header = (f"{'batch':>5s} {'engine':22s} {'img/s':>10s} {'ms/batch':>9s} {'x eager':>8s} "
              f"{'peak MiB':>9s}")
    return [title, header] + [_case(f"{row['batch_size']:5d} {engine:22s}", e,
                                    f"{_num(_median(e, 'latency_ms'), 2):>9s}")
                              for row in s["batches"] for engine, e in row["engines"].items()]


def _lines_sync(s: dict[str, Any]) -> list[str]:
    if "status" in s:
        return [s["status"]]
    return [f"resnetlab trainer of {s['model']}, under torch.cuda.set_sync_debug_mode('error'):"
            ] + [f"{what}: {r['status']}" + (f" ({r['error']} at {r['where']})" if "where" in r
                                        else f" ({r['steps']} steps)" if "steps" in r else "")
            for what, r in s.items() if isinstance(r, dict)]


def _lines_memory(s: dict[str, Any]) -> list[str]:
    if s["status"] != "measured":
        return [s["status"]]
    return [f"{c['section']:9s} {c['model']:15s} {c['case']:42s} {c['peak_bytes'] / MIB:9,.0f} MiB"
            for c in s["cases"]]


def render(report: dict[str, Any]) -> str:
    """Every section under its own title."""
    m = report["machine"]
    parts = [("machine", [f"{m['gpu'] or 'no GPU'}; torch {m['torch']}, CUDA {m['cuda']}, "
                          f"cuDNN {m['cudnn']}; {m['cpu']}, {m['cores']} cores"]),
             ("training throughput", _lines_training(report["training"])),
             ("time to accuracy", _lines_accuracy(report["time_to_accuracy"])),
             ("inference", _lines_inference(report["inference"])),
             ("peak memory", _lines_memory(report["memory"])),
             ("no host sync", _lines_sync(report["no_host_sync"]))]
    text = []
    for title, lines in parts:
        text += [f"== {title} ==", *lines, ""]
    s = report["settings"]
    text.append(f"{s['mode']} run on {report['device']}: {report['seconds']:.0f} s "
                f"(budget {s['budget_seconds']:.0f} s)")
    return "\n".join(text)
