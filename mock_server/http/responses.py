"""The one place where errors become HTTP responses: from ASGI middleware and from Connexion.

Framework errors (Connexion problems, Starlette HTTP exceptions, anything unexpected)
are mapped to the same ``{"error": ...}`` body as the rules' errors, so no error ever
leaves as ``application/problem+json``, HTML or a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from http import HTTPStatus

from connexion.exceptions import ProblemException, UnsupportedMediaTypeProblem
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException
from starlette.types import Send

from ..encoding import json_bytes
from ..errors import (
    BookingError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    UnsupportedMediaType,
)

logger = logging.getLogger("mock_server")


def to_booking_error(exc: BaseException) -> BookingError:
    """Map any exception to the BookingError the client sees."""
    if isinstance(exc, BookingError):
        return exc
    if isinstance(exc, UnsupportedMediaTypeProblem):
        return UnsupportedMediaType()
    if isinstance(exc, ProblemException):
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail else exc.title
        error = BookingError(detail or HTTPStatus(exc.status).phrase)
        error.status = exc.status
        return error
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return NotFound(f"No route for this path. {_route_hint()}")
        if exc.status_code == 405:
            return MethodNotAllowed(headers=dict(exc.headers or {}))
        error = BookingError(HTTPStatus(exc.status_code).phrase + ".")
        error.status = exc.status_code
        return error
    logger.error("unexpected error", exc_info=exc)
    return InternalError()


def _route_hint() -> str:
    return "The booking endpoint is POST /api/public/scheduling/{userSlug}/{eventSlug}/book."


def render(error: BookingError) -> tuple[int, bytes, dict[str, str]]:
    """Status, JSON body and headers for an error."""
    return error.status, json_bytes(error.body()), dict(error.headers)


# Connexion and Starlette register their own handlers for these; ours replace them.
HANDLED: tuple[type[Exception], ...] = (BookingError, ProblemException, HTTPException, Exception)


async def connexion_handler(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Connexion error handler: every exception Connexion catches ends here.

    Async, so Connexion runs it on the event loop rather than in a thread pool.
    """
    status, body, headers = render(to_booking_error(exc))
    return ConnexionResponse(
        status_code=status, body=body, headers=headers, mimetype="application/json"
    )


def connexion_handler_with_allow(
    allowed_methods: Callable[[str], str | None],
) -> Callable[[ConnexionRequest, Exception], Awaitable[ConnexionResponse]]:
    """The handler, with a 405's Allow naming every method of the path, not just one route's.

    Starlette answers 405 from the first route matching the path, and Connexion makes
    one route per operation, so its Allow would name only that operation's method.
    """

    async def handler(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        response = await connexion_handler(request, exc)
        if response.status_code == 405:
            allow = allowed_methods(request.url.path)
            if allow:
                response.headers["Allow"] = allow
        return response

    return handler


async def send_json(
    send: Send,
    status: int,
    payload: bytes,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """A whole JSON response from ASGI code: the one place that writes start and body."""
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


async def send_error(
    send: Send, error: BookingError, fields: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """The error's response, plus header fields (RateLimit) it does not set itself."""
    status, body, headers = render(error)
    own = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    present = {name for name, _ in own}
    await send_json(send, status, body, [*own, *(f for f in fields if f[0] not in present)])
