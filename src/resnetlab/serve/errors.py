"""Every error the API returns: one line of JSON, ``{"error": "<problem>; <fix>"}``, a 4xx status.

Bad input never becomes a 5xx: the library's user errors map to 4xx here (a
:class:`~resnetlab.errors.DataError` from an image is 422, the subclasses for unknown formats
and decompression bombs 415 and 413), and FastAPI's own errors (unknown route, a query parameter
that is no number) are rewritten to the same one-line shape. Only a bug gives 500 (the server logs
its traceback).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from resnetlab.data.images import ImageFormatError, ImageTooLargeError
from resnetlab.errors import ResnetlabError, UnknownModelError


class ApiError(Exception):
    """An HTTP error with a one-line message (and headers such as ``Retry-After``)."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def error_response(status: int, message: str,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The one shape of every error body."""
    return JSONResponse({"error": message}, status_code=status, headers=dict(headers or {}))


def status_of(exc: ResnetlabError) -> int:
    """The HTTP status of a library error caused by the request."""
    if isinstance(exc, ImageTooLargeError):
        return 413
    if isinstance(exc, ImageFormatError):
        return 415
    if isinstance(exc, UnknownModelError):
        return 404
    return 422


def _validation_text(exc: RequestValidationError) -> str:
    parts = []
    for item in exc.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("query", "path"))
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) + "; see /docs for the expected parameters"


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` one line of JSON."""

    @app.exception_handler(ApiError)
    async def _api(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(ResnetlabError)
    async def _library(_request: Request, exc: ResnetlabError) -> JSONResponse:
        return error_response(status_of(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _validation_text(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404:
            message = f"no route {request.url.path}; see /docs for the API"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs"
        return error_response(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(_request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises it after this response, so the server logs the traceback.
        return error_response(500, f"internal error ({type(exc).__name__}); this is a bug, "
                              "please report it with the server log")
