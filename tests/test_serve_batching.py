"""Micro-batching and back-pressure, with a slow fake model that records its batch sizes.

Requests are sent concurrently from one event loop (httpx on the app's ASGI interface, the
app's own lifespan running), so they really overlap in the server.
"""

from __future__ import annotations

import asyncio
import io
import re
import time

import httpx
import pytest
import torch
from PIL import Image
from torch import nn

from resnetlab.hardware import placement
from resnetlab.serve.app import create_app
from resnetlab.serve.batching import MicroBatcher
from resnetlab.serve.config import ServeConfig
from resnetlab.serve.registry import ModelRegistry, ServedModel

META = {"model": "slow", "num_classes": 2, "input_size": [3, 8, 8], "classes": ["cat", "dog"],
        "mean": [0.5] * 3, "std": [0.25] * 3}


class SlowModel(nn.Module):
    """Two logits per image after ``delay`` seconds; remembers every batch size."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(int(x.shape[0]))
        time.sleep(self.delay)
        return torch.stack([x.mean(dim=(1, 2, 3)), -x.mean(dim=(1, 2, 3))], dim=1)


def app_with(model: nn.Module, **settings):
    served = ServedModel("slow", model, model, dict(META), False, "fake",
                         placement("cpu", "fp32", channels_last=False))
    return create_app(ServeConfig(**settings), ModelRegistry([served]))


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (250, 240, 230)).save(buffer, "PNG")  # bright: SlowModel says cat
    return buffer.getvalue()


async def ready(http: httpx.AsyncClient) -> None:
    """Wait for the warm-up, so that it is the first batch the model sees."""
    while (await http.get("/readyz")).status_code != 200:
        await asyncio.sleep(0.01)


async def _burst(app, count: int, **params) -> tuple[list[httpx.Response], str]:
    data = png()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            await ready(http)
            responses = await asyncio.gather(*(
                http.post("/v1/models/slow/predict", content=data, params=params,
                          headers={"content-type": "image/png"}) for _ in range(count)))
            metrics = (await http.get("/metrics")).text
    return list(responses), metrics


def burst(app, count: int) -> tuple[list[httpx.Response], str]:
    return asyncio.run(_burst(app, count))


def histogram(metrics: str, name: str) -> dict[str, float]:
    """``{"1.0": n, ..., "+Inf": n}`` of a histogram's buckets in the Prometheus text."""
    found = re.findall(rf'{name}_bucket\{{le="([^"]+)",model="slow"\}} (\S+)', metrics)
    return {le: float(count) for le, count in found}


def test_concurrent_requests_run_as_one_batch():
    model = SlowModel(delay=0.05)
    responses, metrics = burst(app_with(model, max_batch=8, batch_wait_ms=200), 8)
    assert [r.status_code for r in responses] == [200] * 8
    assert {r.json()["top"][0]["label"] for r in responses} == {"cat"}
    batches = model.sizes[1:]  # the first call is the warm-up
    assert max(batches) > 1 and sum(batches) == 8
    buckets = histogram(metrics, "resnetlab_batch_size")
    assert buckets["+Inf"] == len(batches) and buckets["1.0"] < buckets["+Inf"]


def test_batching_off_runs_one_image_per_batch():
    model = SlowModel(delay=0.01)
    responses, metrics = burst(app_with(model, max_batch=1), 4)
    assert [r.status_code for r in responses] == [200] * 4
    assert model.sizes[1:] == [1, 1, 1, 1]
    assert histogram(metrics, "resnetlab_batch_size")["1.0"] == 4  # the warm-up is not counted


def test_a_full_queue_answers_503_with_retry_after():
    model = SlowModel(delay=0.3)
    responses, metrics = burst(app_with(model, max_batch=1, max_queue=1), 6)
    codes = sorted(r.status_code for r in responses)
    assert 200 in codes and 503 in codes and set(codes) <= {200, 503}, codes
    refused = next(r for r in responses if r.status_code == 503)
    assert refused.headers["retry-after"] == "1" and "busy" in refused.json()["error"]
    assert 'status="503"' in metrics


def test_a_stopped_batcher_refuses_what_is_queued():
    async def go():
        batcher = MicroBatcher(lambda items: items, max_batch=4, wait_ms=1000, max_queue=8)
        batcher.start()
        waiting = asyncio.ensure_future(batcher.submit("x"))
        await asyncio.sleep(0.05)  # the worker holds it, waiting a second for more
        await batcher.stop()
        with pytest.raises(Exception) as refused:
            await waiting
        assert getattr(refused.value, "status", None) == 503
        with pytest.raises(Exception) as late:
            await batcher.submit("y")
        assert getattr(late.value, "status", None) == 503

    asyncio.run(go())


def test_batches_keep_each_request_own_top_k():
    async def go():
        app = app_with(SlowModel(delay=0.02), max_batch=4, batch_wait_ms=100)
        data = png()
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                return await asyncio.gather(*(
                    http.post("/v1/models/slow/predict", params={"top_k": k}, content=data,
                              headers={"content-type": "image/png"}) for k in (1, 2, 1, 2)))

    responses = asyncio.run(go())
    assert [len(r.json()["top"]) for r in responses] == [1, 2, 1, 2]
