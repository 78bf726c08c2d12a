"""Bearer tokens: with ``--token T`` (or ``RESNETLAB_TOKEN``) every ``/v1`` route needs
``Authorization: Bearer T``.

The comparison is :func:`hmac.compare_digest`, whose time does not depend on where the first
wrong character is, so the token cannot be guessed one character at a time by timing answers.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request

from resnetlab.serve.errors import ApiError

SCHEME = "bearer"


def token_guard(token: str | None) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency that refuses requests without the token (401); a no-op without."""
    expected = token.encode() if token else None

    async def require_token(request: Request) -> None:
        if expected is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != SCHEME or not hmac.compare_digest(given.strip().encode(), expected):
            raise ApiError(401, "missing or wrong token; send the header 'Authorization: "
                           "Bearer <token>' with the server's --token",
                           {"WWW-Authenticate": "Bearer"})

    return require_token
