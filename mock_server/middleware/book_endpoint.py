"""The book operation served directly: rules 3 to 10 without Connexion's per-request machinery.

Profiling showed Connexion's generic pipeline (two routers, per-request validator
objects, parameter and response decorators, a context variable) costing several
times the booking itself. This endpoint does the same work for the one hot
operation: the media type from the spec's `requestBody`, the body validated by the
spec's own schema (compiled once, see validation.SchemaValidator), the same domain
calls and the same errors. Everything else (the control API, the docs, 405s) stays
with Connexion, and `Settings(direct_booking=False)` sends bookings through it too,
which the tests use to show both give the same answers.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from ..booking import BookingService, booking_json
from ..errors import BookingError, InvalidRequest, UnsupportedMediaType, to_booking_error
from ..json_input import media_type, parse_json_body
from ..validation import SchemaValidator
from ._send import send_error
from .gate import match_path


class BookEndpoint:
    def __init__(
        self,
        app: ASGIApp,
        *,
        path_pattern: re.Pattern[str],
        operation: dict[str, Any],
        service: BookingService,
    ) -> None:
        self.app = app
        self.pattern = path_pattern
        self.service = service
        content = operation["requestBody"]["content"]
        self.media_types = [media.lower() for media in content]
        self.validator = SchemaValidator(content["application/json"]["schema"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = None
        if scope["type"] == "http" and scope["method"] == "POST":
            match = match_path(self.pattern, scope)
        if match is None:
            await self.app(scope, receive, send)
            return
        try:
            body = await self._body(scope, receive)
            self.validator.check_body(body)
            host, event_type = self.service.find(
                unquote(match["userSlug"]), unquote(match["eventSlug"])
            )
            booking = await self.service.book(host, event_type, body)
        except BookingError as error:
            await send_error(send, error)
            return
        except Exception as exc:
            await send_error(send, to_booking_error(exc))
            return
        payload = json.dumps(booking_json(booking)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _body(self, scope: Scope, receive: Receive) -> Any:
        mime, charset = media_type(scope["headers"])
        # As Connexion does: no Content-Type is taken to be the first the spec accepts.
        if mime is not None and mime not in self.media_types:
            raise UnsupportedMediaType()
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        if not raw:
            raise InvalidRequest("The request body is required: a JSON object.")
        return parse_json_body(raw, charset)
