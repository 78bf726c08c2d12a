"""Upload validation: nothing reaches a model unless it is a readable image of sane size.

In order: the body's size (``Content-Length`` first, then counted while it streams in, for
chunked bodies that announce nothing: 413), the body's form (raw image bytes, or the ``file``
field of a multipart form), the image's pixel count from its header before any pixel is
decoded (decompression bombs: 413), the decode itself with the one image reader
(:func:`resnetlab.data.images.decode_image`, as ``resnetlab predict`` reads files: 415 for no
image, 422 for a truncated or corrupt one), and the resize the model's input needs (an image
of 1 × 80,000 pixels would have to grow to 32 × 2,560,000 to cover 32 × 32: 422).
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import torch
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resnetlab.data.images import decode_image
from resnetlab.errors import ResnetlabError
from resnetlab.serve.errors import ApiError, error_response, status_of

FIELD = "file"  # the multipart field that holds the image
_SEND = ("send the image bytes as the request body with Content-Type image/png, image/jpeg..., "
         f"or as the multipart field '{FIELD}'")


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"the upload is larger than {limit / 2**20:g} MB; send a smaller "
                    "image or start the server with a larger --max-upload-mb")


class BodyLimitMiddleware:
    """ASGI middleware refusing bodies over ``limit`` bytes with 413.

    A ``Content-Length`` over the limit is refused before a byte of the body is read; a body
    without one is counted as it arrives and refused once it passes the limit (the handler
    reading it gets an :class:`ApiError`), so memory never holds more than the limit.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = int(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:
                await error_response(400, "Content-Length is not a number; send a valid "
                                     "request")(scope, receive, send)
                return
            if too_big:
                error = _too_large(self.limit)
                await error_response(error.status, error.message)(scope, receive, send)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _too_large(self.limit)
            return message

        await self.app(scope, counted, send)


def _covering_pixels(height: int, width: int, meta: dict[str, Any]) -> int:
    """Pixels of the image once scaled to cover the model's input (before the centre crop)."""
    resize = meta.get("resize_size")
    target = (int(resize), int(resize)) if resize else tuple(int(s) for s in
                                                              meta["input_size"][1:])
    scale = max(target[0] / height, target[1] / width)
    return round(height * scale) * round(width * scale)


async def image_bytes(request: Request) -> bytes:
    """The uploaded image's bytes: the raw body, or the ``file`` field of a multipart form."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get(FIELD)
        if not isinstance(upload, UploadFile):
            raise ApiError(422, f"the form has no file field '{FIELD}'; {_SEND}")
        return await upload.read()
    if kind and not (kind.startswith("image/") or kind == "application/octet-stream"):
        raise ApiError(415, f"Content-Type {kind} is not an image; {_SEND}")
    return await request.body()


def decode_upload(data: bytes, meta: dict[str, Any], max_pixels: int) -> torch.Tensor:
    """The uint8 ``C x H x W`` image for a model with ``meta``, or an :class:`ApiError`."""
    if not data:
        raise ApiError(422, f"the request has no image; {_SEND}")
    try:
        image = decode_image(data, int(meta["input_size"][0]), max_pixels=max_pixels,
                             label="the upload")
    except ResnetlabError as exc:
        raise ApiError(status_of(exc), str(exc)) from None
    height, width = image.shape[-2:]
    if _covering_pixels(height, width, meta) > max_pixels:
        raise ApiError(422, f"the upload is {height} x {width} pixels, too elongated to resize "
                       "to the model's input; crop it closer to a square")
    return image


def decoder_pool() -> ThreadPoolExecutor:
    """The threads that decode uploads: one per core. More would only queue on the GIL (16
    concurrent small decodes in 16 threads cost a quarter more CPU per request, measured)."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="decode")


async def read_upload(request: Request, meta: dict[str, Any], max_pixels: int,
                      pool: Executor | None = None) -> torch.Tensor:
    """Read, check and decode the request's image; decoding runs in ``pool`` (default: the
    event loop's default executor), off the event loop."""
    data = await image_bytes(request)
    return await asyncio.get_running_loop().run_in_executor(pool, decode_upload, data, meta,
                                                            max_pixels)
