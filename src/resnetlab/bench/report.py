"""Markdown tables from a benchmark report (the dicts :mod:`resnetlab.bench.suite` returns).

Every measured figure is shown as ``median (min-max)`` over the repeats, so the noise of the
machine is visible next to the number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MIB = 2**20


def stat(entry: dict[str, Any] | None, digits: int = 0, scale: float = 1.0) -> str:
    """``median (min-max)`` of a :meth:`Stats.to_dict` entry."""
    if not entry:
        return "-"
    m, lo, hi = (entry[k] * scale for k in ("median", "min", "max"))
    return f"{m:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def ratio(entry: dict[str, Any] | None, invert: bool = False) -> str:
    """A speed-up entry as ``2.41x (2.30-2.52)``; ``invert`` gives the time fraction instead."""
    if not entry:
        return "-"
    values = [entry["median"], entry["min"], entry["max"]]
    if invert:
        values = [1 / values[0], 1 / values[2], 1 / values[1]]
    return f"{values[0]:.2f}x ({values[1]:.2f}-{values[2]:.2f})"


def mib(n: int | None) -> str:
    return "-" if n is None else f"{n / MIB:.0f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def training_table(rows: Sequence[dict[str, Any]]) -> str:
    dtypes = sorted({r.get("ceiling_dtype", "float32") for r in rows})
    header = ["model", "batch", "stock img/s", "resnetlab img/s", "speed-up",
              f"{'/'.join(dtypes)} GEMM ceiling img/s", "resnetlab / ceiling",
              "peak MiB stock / resnetlab", "resnetlab path"]
    out = []
    for r in rows:
        fast = r["resnetlab"]
        ceiling = r.get("ceiling_images_per_second")
        share = (f"{100 * fast['images_per_second']['median'] / ceiling['median']:.0f} %"
                 if ceiling else "-")
        out.append([r["model"], r["batch_size"], stat(r["baseline"]["images_per_second"]),
                    stat(fast["images_per_second"]), ratio(fast["speedup"]), stat(ceiling),
                    share, f"{mib(r['baseline']['peak_bytes'])} / {mib(fast['peak_bytes'])}",
                    fast["label"]])
        if "resnetlab_compile" in r:
            c = r["resnetlab_compile"]
            out.append([r["model"], r["batch_size"], "", stat(c["images_per_second"]),
                        ratio(c["speedup"]), "", "", f"- / {mib(c['peak_bytes'])}",
                        c["label"]])
    return table(header, out)


def inference_table(rows: Sequence[dict[str, Any]]) -> str:
    """Batch > 1 rows in images/s, batch-1 rows in milliseconds; ratios > 1 are faster."""
    header = ["model", "input", "batch", "metric", "stock", "best fp32 engine", "fp32 ratio",
              "int8 engine", "int8 ratio", "peak MiB stock / fp32 / int8 (start + 1st batch)"]
    out = []
    for r in rows:
        latency = r["batch_size"] == 1
        key, digits = ("latency_ms", 1) if latency else ("images_per_second", 1)
        cells = [r["model"], f"{r['image_size']}px", r["batch_size"],
                 "latency ms" if latency else "img/s", stat(r["baseline"][key], digits)]
        peaks = [mib(r["baseline"]["peak_bytes"])]
        for best in (r["best_fp32"], r["best_int8"]):
            e = r["engines"].get(best) if best else None
            cells += [f"{best}: {stat(e[key], digits)}" if e else "-",
                      ratio(e["speedup"], invert=latency) if e else "-"]
            peaks.append(mib(e["peak_bytes"]) if e else "-")
        out.append(cells + ["" if latency else " / ".join(peaks)])
    return table(header, out)


def engines_table(rows: Sequence[dict[str, Any]]) -> str:
    """Every engine of every inference row, as a speed-up over the stock baseline."""
    header = ["model", "batch", "engine", "speed-up", "setup s", "weights MiB",
              "peak MiB (start + 1st batch)"]
    out = []
    for r in rows:
        ceiling = r.get("ceiling_images_per_second")
        if ceiling:
            out.append([r["model"], r["batch_size"], "(fp32 GEMM ceiling)",
                        f"{stat(ceiling, 1)} img/s", "", "", ""])
        for name, e in r["engines"].items():
            out.append([r["model"], r["batch_size"], name, ratio(e["speedup"]),
                        f"{e['setup_seconds']:.1f}", mib(e["weight_bytes"]),
                        mib(e["peak_bytes"])])
        for name, why in r.get("skipped", {}).items():
            out.append([r["model"], r["batch_size"], name, f"skipped: {why}", "", "", ""])
    return table(header, out)


def levers_table(levers: Sequence[dict[str, Any]]) -> str:
    """One row per lever: baseline and lever throughput, and the speed-up."""
    return table(["task", "lever", "stock img/s", "with the lever img/s", "speed-up"],
                 [[lv["task"], lv["lever"], stat(lv["baseline"], 1), stat(lv["value"], 1),
                   ratio(lv["speedup"])] for lv in levers])


def profile_table(ops: Sequence[dict[str, Any]]) -> str:
    return table(["operator", "calls", "self ms", "share"],
                 [[o["name"], o["calls"], f"{1000 * o['self_seconds']:.1f}",
                   f"{100 * o['share']:.1f} %"] for o in ops])


def render(report: dict[str, Any]) -> str:
    """The whole report as markdown: machine, GEMM, training, inference, data, profiles."""
    m = report["machine"]
    parts = [f"Machine: {m['cpu']}, {m['cores']} cores, flags: {' '.join(m['cpu_flags'])}; "
             f"torch {m['torch']} ({m['torch_threads']} threads, "
             f"kernels {m['torch_cpu_capability']}), onnxruntime {m['onnxruntime']}; "
             f"GPU: {m['gpu'] or 'none'}; "
             f"OMP_WAIT_POLICY={m['omp_wait_policy'] or 'unset'}; {m['date']}."]
    if report.get("command"):
        parts.append(f"Command: `{report['command']}`")
    if report.get("gemm"):
        parts.append("GEMM GFLOP/s (512x512, at the start): " + ", ".join(
            f"{k} {stat(v, 1)}" for k, v in report["gemm"].items()))
    if report["training"]:
        parts += ["Training (one SGD step, images/s):", training_table(report["training"])]
    if report["inference"]:
        parts += ["Inference (ratio: stock time / engine time; latency rows show the time "
                  "fraction, lower is better):", inference_table(report["inference"]),
                  "All engines:", engines_table(report["inference"])]
    data = report.get("data")
    if data:
        ratio_text = f"{data['ratio']:.1f}x" if data.get("ratio") else "-"
        parts.append(f"Data path (batched augmentation, batch {data['batch_size']}): "
                     f"{stat(data['images_per_second'])} img/s, {ratio_text} the resnetlab "
                     "training throughput of the first training model.")
    for r in report["training"]:
        if r.get("profile"):
            label = r["resnetlab"]["label"]
            parts += [f"Where the time goes, {r['model']} training step ({label}):",
                      profile_table(r["profile"])]
    parts.append(f"Total time: {report.get('seconds', 0):.0f} s.")
    return "\n\n".join(parts) + "\n"
