"""The HTTP API of ``resnetlab serve``: :func:`create_app` builds the FastAPI application.

``create_app(config)`` loads the models ``config`` names (or takes a ready
:class:`~resnetlab.serve.registry.ModelRegistry`); ``create_app()`` with no argument reads the
config from ``RESNETLAB_SERVE_*`` variables, which is what
``uvicorn --factory resnetlab.serve.app:create_app --workers N`` calls in each worker. The routes
are those of docs/serve.md; OpenAPI docs are at ``/docs``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from resnetlab import __version__
from resnetlab.analysis.render import image_for_display, png_bytes
from resnetlab.deploy.predict import Guess
from resnetlab.serve import explain, info, page, runfiles
from resnetlab.serve.auth import token_guard
from resnetlab.serve.batching import MicroBatcher
from resnetlab.serve.config import ServeConfig
from resnetlab.serve.errors import ApiError, error_response, install_error_handlers
from resnetlab.serve.metrics import Metrics, MetricsMiddleware
from resnetlab.serve.registry import ModelRegistry, ServedModel, load_registry
from resnetlab.serve.uploads import FIELD, BodyLimitMiddleware, decoder_pool, read_upload

MAX_TOP_K = 1000
# The request body of the image routes, for /docs (the handlers read the body themselves).
_BINARY = {"schema": {"type": "string", "format": "binary"}}
IMAGE_BODY = {"requestBody": {"required": True, "content": {
    "image/png": _BINARY, "image/jpeg": _BINARY, "application/octet-stream": _BINARY,
    "multipart/form-data": {"schema": {"type": "object", "required": [FIELD],
                                       "properties": {FIELD: _BINARY["schema"]}}}}}}


@dataclass
class ServerState:
    """What the routes share: the config, the models, their batchers and the metrics."""

    config: ServeConfig
    registry: ModelRegistry
    metrics: Metrics
    batchers: dict[str, MicroBatcher] = field(default_factory=dict)
    decoders: ThreadPoolExecutor | None = None  # made at start-up, shut down at the end
    ready: bool = False

    def served(self, model_id: str) -> ServedModel:
        """The model called ``model_id``, or a 404 naming the ids served."""
        found = self.registry.get(model_id)
        if found is None:
            raise ApiError(404, f"no model {model_id[:80]!r} here; this server serves "
                           f"{', '.join(self.registry.ids)} (see GET /v1/models)")
        return found


def _predict_batch(served: ServedModel, items: list[tuple[torch.Tensor, int]]
                   ) -> list[list[Guess]]:
    """One batch of ``(image, top_k)`` requests → each request's own top-k."""
    guesses = served.predict([image for image, _ in items], max(k for _, k in items))
    return [top[:k] for top, (_, k) in zip(guesses, items, strict=True)]


def _warm_up(registry: ModelRegistry) -> None:
    """One prediction per model, so that the first request does not pay for the first call."""
    for served in registry:
        size = [int(s) for s in served.meta["input_size"]]
        served.predict([torch.zeros(size, dtype=torch.uint8)], 1)


def _lifespan(state: ServerState, owns_registry: bool):
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        config, metrics = state.config, state.metrics
        state.decoders = decoder_pool()
        for served in state.registry:
            metrics.add_model(served.id)
            batcher = MicroBatcher(
                partial(_predict_batch, served), max_batch=config.max_batch,
                wait_ms=config.batch_wait_ms if config.max_batch > 1 else 0,
                max_queue=config.max_queue,
                on_batch=partial(metrics.observe_batch, served.id),
                on_depth=partial(metrics.set_depth, served.id))
            batcher.start()
            state.batchers[served.id] = batcher

        async def warm() -> None:
            await asyncio.to_thread(_warm_up, state.registry)
            state.ready = True

        warming = asyncio.get_running_loop().create_task(warm())
        try:
            yield
        finally:
            state.ready = False
            warming.cancel()
            for batcher in state.batchers.values():
                await batcher.stop()
            state.decoders.shutdown(wait=False, cancel_futures=True)
            if owns_registry:
                state.registry.close()

    return lifespan


def _v1_routes(state: ServerState) -> APIRouter:
    guard = [Depends(token_guard(state.config.token))] if state.config.token else []
    router = APIRouter(prefix="/v1", dependencies=guard)
    max_pixels = state.config.max_pixels

    async def explained(model_id: str, request: Request, compute, *args: Any) -> dict[str, Any]:
        """``compute(served, image, *args)`` on the uploaded image, in a worker thread."""
        served = state.served(model_id)
        image = await read_upload(request, served.meta, max_pixels, state.decoders)
        return await run_in_threadpool(compute, served, image, *args)

    @router.get("/models", summary="The served models")
    async def list_models() -> dict[str, Any]:
        return {"models": [served.listing() for served in state.registry]}

    @router.get("/models/{model_id}", summary="One model: card, meta, layers, blocks, run files")
    async def model_detail(model_id: str) -> dict[str, Any]:
        return await run_in_threadpool(info.detail, state.served(model_id))

    @router.post("/models/{model_id}/predict", summary="Top-k classes of an image",
                 openapi_extra=IMAGE_BODY, response_class=JSONResponse)
    async def predict(model_id: str, request: Request,
                      top_k: int = Query(5, ge=1, le=MAX_TOP_K)) -> JSONResponse:
        # The hot path: the answer is built by hand and returned as a response, which skips
        # FastAPI's validation and encoding of the return value (~0.4 ms a request).
        start = time.perf_counter()
        served = state.served(model_id)
        image = await read_upload(request, served.meta, max_pixels, state.decoders)
        top = await state.batchers[served.id].submit((image, top_k))
        return JSONResponse({
            "model": served.id,
            "top": [{"index": g.index, "label": g.label, "probability": g.probability}
                    for g in top],
            "latency_ms": round(1000 * (time.perf_counter() - start), 3)})

    @router.post("/models/{model_id}/gradcam", summary="Grad-CAM overlay of a class",
                 openapi_extra=IMAGE_BODY)
    async def gradcam(model_id: str, request: Request,
                      class_index: int | None = Query(None, ge=0)) -> dict[str, Any]:
        return await explained(model_id, request, explain.gradcam, class_index)

    @router.post("/models/{model_id}/features", summary="Feature maps of every stage",
                 openapi_extra=IMAGE_BODY)
    async def features(model_id: str, request: Request) -> dict[str, Any]:
        return await explained(model_id, request, explain.features)

    @router.post("/models/{model_id}/residual", summary="x, F(x), S(x), F+S of one block",
                 openapi_extra=IMAGE_BODY)
    async def residual(model_id: str, request: Request,
                       block: str | None = Query(None, max_length=100),
                       lang: str = Query("en", pattern="^(en|es)$")) -> dict[str, Any]:
        return await explained(model_id, request, explain.residual, block, lang)

    @router.get("/models/{model_id}/curves", summary="Training curves from metrics.csv")
    async def curves(model_id: str) -> dict[str, Any]:
        served = state.served(model_id)
        found = await run_in_threadpool(runfiles.curves, served)
        if found is None:
            raise ApiError(404, f"{served.id} has no training curves (no metrics.csv: "
                           "untrained or raw weights); serve a run directory to see them")
        return found

    @router.get("/models/{model_id}/curves.png", summary="The run's curves.png",
                response_class=FileResponse)
    async def curves_png(model_id: str) -> Response:
        served = state.served(model_id)
        path = runfiles.figure_path(served, runfiles.CURVES_PNG)
        if path is None:
            raise ApiError(404, f"{served.id} has no {runfiles.CURVES_PNG}; serve a finished "
                           "run directory to see it")
        return FileResponse(path, media_type="image/png")

    @router.get("/models/{model_id}/figures/{name}", summary="One PNG of the run directory",
                response_class=FileResponse)
    async def figure(model_id: str, name: str) -> Response:
        served = state.served(model_id)
        path = runfiles.figure_path(served, name)
        if path is None:
            listed = ", ".join(runfiles.figures(served)) or "none"
            raise ApiError(404, f"no figure {name[:80]!r} for {served.id}; its figures: "
                           f"{listed}")
        return FileResponse(path, media_type="image/png")

    @router.get("/models/{model_id}/samples/{index}", summary="Test image of the run's data",
                response_class=Response)
    async def sample(model_id: str, index: int) -> Response:
        served = state.served(model_id)
        found = await run_in_threadpool(runfiles.sample, served, index)
        if found is None:
            count = await run_in_threadpool(runfiles.sample_count, served)
            why = (f"it has {count}: pass 0..{count - 1}" if count else
                   "it has none (no dataset, or its files are not on this machine)")
            raise ApiError(404, f"no sample image {index} for {served.id}; {why}")
        image, label = found
        png = await run_in_threadpool(png_bytes, image_for_display(image))
        return Response(png, media_type="image/png", headers={"X-Resnetlab-Label": label})

    return router


def create_app(config: ServeConfig | None = None,
               registry: ModelRegistry | None = None) -> FastAPI:
    """The application serving ``registry`` (default: the models ``config`` names, loaded now;
    without ``config`` either, the config comes from ``RESNETLAB_SERVE_*`` variables)."""
    config = config if config is not None else ServeConfig.from_env()
    owns_registry = registry is None
    registry = load_registry(config) if registry is None else registry
    state = ServerState(config, registry, Metrics())
    app = FastAPI(title="resnetlab serve", version=__version__,
                  lifespan=_lifespan(state, owns_registry),
                  description="Predictions and explanations of residual networks; errors are "
                  '`{"error": "..."}` with a 4xx status. See docs/serve.md.')
    app.state.serve = state
    install_error_handlers(app)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index(request: Request) -> Response:
        language = page.preferred_language(request.headers.get("accept-language"))
        html = page.index_html(language)
        if html is None:
            return error_response(404, "the explorer page is not installed; the API is under "
                                  "/v1 (see /docs)")
        return HTMLResponse(html, headers={"Content-Language": language,
                                           "Vary": "Accept-Language"})

    @app.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: models loaded and warmed up")
    async def readyz() -> Response:
        if state.ready:
            return JSONResponse({"ready": True})
        return JSONResponse({"ready": False, "error": "the models are still warming up; retry "
                             "in a moment"}, status_code=503)

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        for model_id, batcher in state.batchers.items():
            state.metrics.set_depth(model_id, batcher.depth)
        return Response(state.metrics.render(), media_type=state.metrics.content_type)

    app.include_router(_v1_routes(state))
    app.mount("/static", StaticFiles(directory=page.static_dir(), check_dir=False),
              name="static")
    # Added innermost first: metrics see every response, CORS headers go on errors too.
    app.add_middleware(BodyLimitMiddleware, limit=config.max_upload_bytes)
    if config.cors:
        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    return app
