"""The ASGI application: Starlette routes, the book endpoint, CORS and the error format."""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Sequence
from email.utils import formatdate
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .dataset import DEFAULT_DATASET, load_dataset
from .limiter import ClientAddress, Decision, SlidingLog
from .rules import Bookings
from .validation import ApiError, check_media_type, parse_json, read_capped, validate

logger = logging.getLogger(__name__)

BOOK_PATH = "/api/public/scheduling/{userSlug}/{eventSlug}/book"
EXPOSED = "RateLimit, RateLimit-Policy, Retry-After, X-Request-Id, Date"


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    # ASCII-escaped, so no input can make the encoder fail.
    body = json.dumps(payload, ensure_ascii=True, allow_nan=False).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, {"error": message}, headers)


class BookEndpoint:
    """``/api/public/scheduling/{userSlug}/{eventSlug}/book``, every method.

    Every request here is counted (POST, other methods' 405s and CORS preflights alike)
    unless it is answered 429, and every answer carries the RateLimit fields.
    """

    def __init__(
        self,
        limiter: SlidingLog,
        addresses: ClientAddress,
        bookings: Bookings,
        retry_after: str,
        date_header: bool,
    ) -> None:
        self.limiter = limiter
        self.addresses = addresses
        self.bookings = bookings
        self.retry_after = retry_after
        self.date_header = date_header
        self.policy = f'"per-ip";q={limiter.limit};w={math.ceil(limiter.window)}'

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        decision = self.limiter.hit(self.addresses.of(scope))
        fields = {
            "RateLimit-Policy": self.policy,
            "RateLimit": f'"per-ip";r={decision.remaining};t={decision.wait_seconds}',
        }
        if not decision.allowed:
            response = self.refuse(decision)
        else:
            try:
                response = await self.answer(request)
            except ApiError as error:
                response = error_response(error.status, error.message, error.headers)
            except ClientDisconnect:
                response = error_response(400, "The client went away before the body arrived.")
            except Exception:
                logger.exception("booking failed")
                response = error_response(500, "Something broke on our side; nothing was booked.")
        response.headers.update(fields)
        await response(scope, receive, send)

    def refuse(self, decision: Decision) -> Response:
        seconds = decision.wait_seconds
        headers = {}
        if self.retry_after == "http-date":
            wall = time.time()
            # Rounded up to the next whole second: never earlier than the window frees.
            headers["Retry-After"] = formatdate(math.ceil(wall + decision.wait), usegmt=True)
            if self.date_header:
                headers["Date"] = formatdate(wall, usegmt=True)
        else:
            headers["Retry-After"] = str(seconds)
        message = (
            f"Too many booking attempts from this address (at most {self.limiter.limit} per "
            f"{self.policy.rsplit('=', 1)[1]} s). Wait {seconds} s before trying again."
        )
        return error_response(429, message, headers)

    async def answer(self, request: Request) -> Response:
        method = request.method
        headers = request.headers
        if (
            method == "OPTIONS"
            and "origin" in headers
            and "access-control-request-method" in headers
        ):
            return Response(
                status_code=204,
                headers={
                    "Access-Control-Allow-Methods": "POST, OPTIONS",
                    "Access-Control-Allow-Headers": _allowed_headers(
                        headers.get("access-control-request-headers")
                    ),
                    "Access-Control-Max-Age": "600",
                },
            )
        if method != "POST":
            raise ApiError(405, f"{method} is not served here; book with POST.", {"Allow": "POST"})
        host, event = self.bookings.lookup(
            request.path_params["userSlug"], request.path_params["eventSlug"]
        )
        check_media_type(headers.get("content-type"))
        body = await read_capped(headers.get("content-length"), request.stream())
        booking_request = validate(parse_json(body))
        return json_response(201, self.bookings.book(host, event, booking_request))


def _allowed_headers(requested: str | None) -> str:
    names = [n.strip() for n in (requested or "").split(",") if n.strip()]
    safe = [n for n in names if n.replace("-", "").isalnum() and len(n) <= 64]
    return ", ".join(safe[:20]) or "Content-Type"


async def health(request: Request) -> Response:
    return json_response(200, {"status": "up"})


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = "Nothing lives at this path."
    elif exc.status_code == 405:
        message = f"This path does not take {request.method}."
    else:
        message = str(exc.detail) or "The request could not be served."
    return error_response(exc.status_code, message, dict(exc.headers or {}))


async def server_error(request: Request, exc: Exception) -> Response:
    return error_response(500, "Something broke on our side.")


class Edge:
    """Outermost layer: CORS for any origin, an X-Request-Id, an optional own Date, and
    a JSON 500 should anything escape."""

    def __init__(self, app: ASGIApp, date_header: bool) -> None:
        self.app = app
        self.date_header = date_header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers["Access-Control-Allow-Origin"] = "*"
                headers["Access-Control-Expose-Headers"] = EXPOSED
                headers["X-Request-Id"] = request_id
                if self.date_header and "date" not in headers:
                    headers["Date"] = formatdate(usegmt=True)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("unhandled error")
            if not started:
                response = error_response(500, "Something broke on our side.")
                await response(scope, receive, send_with_headers)


def create_app(
    *,
    limit: int = 15,
    window: float = 60,
    trusted_proxies: Sequence[str] = (),
    retry_after: str = "seconds",
    dataset: dict[str, Any] | None = None,
    date_header: bool = False,
) -> ASGIApp:
    """The booking API. ``date_header=True`` makes the app send its own ``Date`` (for a
    server started with uvicorn's ``date_header=False``, as ``__main__`` does)."""
    if retry_after not in ("seconds", "http-date"):
        raise ValueError("retry_after is 'seconds' or 'http-date'")
    bookings = Bookings(load_dataset(dataset if dataset is not None else DEFAULT_DATASET))
    endpoint = BookEndpoint(
        SlidingLog(limit, window),
        ClientAddress(trusted_proxies),
        bookings,
        retry_after,
        date_header,
    )
    app = Starlette(
        routes=[
            Route(BOOK_PATH, endpoint, name="book"),
            Route("/health", health, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    app.router.redirect_slashes = False
    return Edge(app, date_header)
