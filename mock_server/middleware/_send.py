"""Sending an error response straight from ASGI middleware."""

from __future__ import annotations

from starlette.types import Send

from ..errors import BookingError, render


async def send_error(send: Send, error: BookingError) -> None:
    status, body, headers = render(error)
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
