"""What serving costs: ``resnetlab serve`` under 16 concurrent clients vs the same model offline.

For each model (default: resnet20 on 32 px PNGs, resnet50 on 256 px JPEGs, untrained; the
ImageNet preset resizes those to 256 and crops 224), a real ``python -m resnetlab serve``
process on 127.0.0.1 is loaded by ``--clients`` concurrent httpx clients, with micro-batching on
(``--max-batch 16``) and off (``--max-batch 1``): throughput, p50 and p99 latency. Next to each,
in the same run (just before and just after the load), the offline throughput of the same
engine at the same batch size: the ``predict_tensors`` call the server makes, on images already
decoded in memory, with the same torch threads. The clients run in this process, on the same
cores as the server: on a small machine they take a share of the CPU the server could use.
Then a soak: ``--soak`` requests (default 2,000) with ``--bad`` (10 %) broken uploads (text,
truncated PNG, random bytes, a decompression-bomb header, a wrong Content-Type, an empty body):
no 5xx may come back, and the server's resident memory may not grow by 10 % or more.

Loopback only; bounded in requests (``--requests``) and in time (``--seconds`` per load
phase). The default run takes about 3 minutes on the 2-core development machine; ``--quick``
is a smoke run of a minute. Results go to docs/benchmarks.md, "Serving (issue 13)"::

    .venv/bin/python benchmarks/serve_load.py --json runs/serve_load.json
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks` as a package

from benchmarks.fuzzing.hostile import png_bomb  # noqa: E402
from resnetlab.data.images import decode_image  # noqa: E402
from resnetlab.deploy.predict import predict_tensors  # noqa: E402
from resnetlab.hardware import placement  # noqa: E402
from resnetlab.models.hub.loader import untrained_model  # noqa: E402

DEFAULT_MODELS = ("resnet20:32:png", "resnet50:256:jpeg")


@dataclass
class Load:
    """One load phase against one server."""

    model: str
    max_batch: int
    clients: int
    requests: int
    seconds: float
    throughput: float  # requests per second
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    offline_throughput: float  # images per second, predict_tensors at batch size max_batch
    offline_before_after: tuple[float, float]
    mean_batch: float  # images per batch the server ran during the load (its /metrics)

    @property
    def ratio(self) -> float:
        return self.throughput / self.offline_throughput


def upload(side: int, fmt: str, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt.upper(), **({"quality": 90} if fmt == "jpeg"
                                                         else {}))
    return buffer.getvalue()


def bad_uploads(good: bytes) -> list[tuple[bytes, str]]:
    """Broken requests of every kind, with the Content-Type each is sent with."""
    bomb = png_bomb(20_000, 20_000)
    return [(b"not an image at all\n" * 50, "image/png"), (good[: len(good) // 2], "image/png"),
            (os.urandom(4096), "image/jpeg"), (bomb, "image/png"), (good, "text/plain"),
            (b"", "image/png")]


class Server:
    """``python -m resnetlab serve ...`` on a free loopback port, stopped with SIGTERM."""

    def __init__(self, *args: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "resnetlab", "serve", *args, "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def wait_ready(self, timeout: float = 180) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited: {self.process.stderr.read()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"the server was not ready in {timeout:g} s")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Server:
        self.wait_ready()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


async def hammer(url: str, model_id: str, bodies: list[tuple[bytes, str]], clients: int,
                 requests: int, seconds: float) -> tuple[list[float], dict[str, int], float]:
    """``clients`` concurrent loops posting ``bodies`` in turn until ``requests`` are done or
    ``seconds`` have passed; returns the latencies of the 200s, the status counts, the wall."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    issued = 0
    end = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal issued
        while issued < requests and time.perf_counter() < end:
            body, kind = bodies[issued % len(bodies)]
            issued += 1
            start = time.perf_counter()
            response = await http.post(f"/v1/models/{model_id}/predict", content=body,
                                       headers={"content-type": kind})
            statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
            if response.status_code == 200:
                latencies.append(time.perf_counter() - start)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - start
    return latencies, statuses, wall


def offline(name: str, images: list[torch.Tensor], batch: int, seconds: float) -> float:
    """Images per second of ``predict_tensors`` (what the server calls) at ``batch``."""
    model, meta = untrained_model(name)
    where = placement("cpu", "fp32", channels_last=False)
    chunk = [images[i % len(images)] for i in range(batch)]
    predict_tensors(model, meta, chunk, 5, where=where)  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or done < 3 * batch:
        predict_tensors(model, meta, chunk, 5, where=where)
        done += batch
    return done / (time.perf_counter() - start)


def batch_totals(url: str) -> tuple[float, float]:
    """(batches run, images in them) so far, from the server's ``resnetlab_batch_size``."""
    totals = {"count": 0.0, "sum": 0.0}
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        for key in totals:
            if line.startswith(f"resnetlab_batch_size_{key}{{"):
                totals[key] += float(line.rsplit(" ", 1)[1])
    return totals["count"], totals["sum"]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def load_phase(name: str, side: int, fmt: str, max_batch: int, args) -> Load:
    bodies = [(upload(side, fmt, seed), f"image/{fmt}") for seed in range(8)]
    images = [decode_image(b, 3) for b, _ in bodies]
    before = offline(name, images, max_batch, args.offline_seconds)
    requests = args.requests if name == "resnet20" else max(args.clients * 4,
                                                           args.requests // 8)
    with Server(f"untrained:{name}", "--max-batch", str(max_batch), "--threads",
                str(args.threads), "--batch-wait-ms", str(args.batch_wait_ms)) as server:
        asyncio.run(hammer(server.url, f"{name}-untrained", bodies, args.clients,
                           args.clients * 2, args.seconds))  # warm the server's paths
        batches = batch_totals(server.url)
        latencies, statuses, wall = asyncio.run(hammer(
            server.url, f"{name}-untrained", bodies, args.clients, requests, args.seconds))
        count, images_run = (b - a for a, b in zip(batches, batch_totals(server.url),
                                                   strict=True))
    # Offline is measured before and after the load (the machine may be shared): the mean
    # stands for the conditions during the load, both are kept.
    after = offline(name, images, max_batch, args.offline_seconds)
    return Load(name, max_batch, args.clients, sum(statuses.values()), wall,
                len(latencies) / wall, percentile(latencies, 50), percentile(latencies, 99),
                statuses, (before + after) / 2, (before, after), images_run / max(count, 1))


def soak(args) -> dict:
    good = upload(32, "png", 0)
    bad = bad_uploads(good)
    rng = random.Random(0)
    bodies = [rng.choice(bad) if rng.random() < args.bad else (good, "image/png")
              for _ in range(200)]
    with Server("untrained:resnet20", "--threads", str(args.threads)) as server:
        asyncio.run(hammer(server.url, "resnet20-untrained", bodies, args.clients, 200, 60))
        before = server.rss_mb()
        _, statuses, wall = asyncio.run(hammer(server.url, "resnet20-untrained", bodies,
                                               args.clients, args.soak, args.soak_seconds))
        after = server.rss_mb()
        metrics = httpx.get(f"{server.url}/metrics").text
    server_5xx = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                     if line.startswith("resnetlab_requests_total") and 'status="5' in line
                     and 'route="/readyz"' not in line)  # 503 there: still warming up
    return {"requests": sum(statuses.values()), "seconds": wall, "statuses": statuses,
            "bad_fraction": args.bad, "server_5xx": server_5xx, "rss_before_mb": before,
            "rss_after_mb": after, "rss_growth": after / before - 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS),
                        metavar="NAME:SIDE:FORMAT", help="models, upload side and format")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=1600,
                        help="requests per resnet20 phase (resnet50: an eighth)")
    parser.add_argument("--seconds", type=float, default=40, help="cap of each load phase")
    parser.add_argument("--offline-seconds", type=float, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="torch threads of the server and of the offline measurement")
    parser.add_argument("--batch-wait-ms", type=float, default=5)
    parser.add_argument("--soak", type=int, default=2000)
    parser.add_argument("--soak-seconds", type=float, default=120)
    parser.add_argument("--bad", type=float, default=0.1, help="fraction of broken uploads")
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.seconds, args.offline_seconds, args.soak = 200, 10, 1, 300
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    loads = []
    for spec in args.models:
        name, side, fmt = spec.split(":")
        for max_batch in (16, 1):
            result = load_phase(name, int(side), fmt, max_batch, args)
            loads.append(result)
            print(f"{name} --max-batch {max_batch:2d}: {result.throughput:7.1f} req/s "
                  f"(offline {result.offline_throughput:7.1f} img/s, {100 * result.ratio:5.1f} "
                  f"%), p50 {result.p50_ms:7.1f} ms, p99 {result.p99_ms:7.1f} ms, mean batch "
                  f"{result.mean_batch:4.1f}, {result.requests} requests {result.statuses}",
                  flush=True)
    soaked = soak(args)
    print(f"soak: {soaked['requests']} requests ({100 * args.bad:.0f} % bad) in "
          f"{soaked['seconds']:.0f} s, statuses {soaked['statuses']}, server 5xx "
          f"{soaked['server_5xx']:.0f}, RSS {soaked['rss_before_mb']:.0f} -> "
          f"{soaked['rss_after_mb']:.0f} MB ({100 * soaked['rss_growth']:+.1f} %)")
    total = time.perf_counter() - started
    print(f"total {total:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "loads": [asdict(x) | {"ratio": x.ratio} for x in loads], "soak": soaked,
            "seconds": total, "threads": args.threads, "clients": args.clients,
            "machine": str(os.cpu_count()) + " cores"}, indent=2) + "\n")


if __name__ == "__main__":
    main()
