"""The book operation, whole, in PRODUCT's order: one reading of the request, one answer.

``POST /api/public/scheduling/{userSlug}/{eventSlug}/book``:

1. rate limit (rule 1); every answer from here on carries the RateLimit fields;
2. host and event type (rule 2);
3. the mock's forced responses, where asked for: ``Prefer`` on the request, else an
   armed answer (mock_server.http.arming), else a ``--faults`` draw; a forced answer
   may be a network fault (mock_server.http.faults);
4. the body: 413, 415, then rule 3's shape against the spec's compiled schema;
5. ``BookingService.book``: rules 4 to 10;
6. 201 with the booking.

Everything about the operation comes from the spec, read once at start-up
(``BookSpec.from_spec``): the path template, the media types, whether a body is
required, the body's schema and the documented responses. A spec that declares
something this code does not enforce fails start-up. Other methods on the path go on
to Connexion (a 405 with ``Allow``), stamped with the client's RateLimit fields.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from connexion.json_schema import resolve_refs
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.booking import BookingService
from ..encoding import json_bytes
from ..errors import (
    InvalidRequest,
    PayloadTooLarge,
    PreferError,
    RateLimited,
    StorageUnavailable,
    UnsupportedMediaType,
)
from ..ratelimit import Quota, RateLimiter
from .arming import ARMED_KEY, ArmedResponses
from .faults import TRANSPORT_KEY, Fault, RandomFaults, play
from .json_input import parse_content_type, parse_json_body
from .prefer import ForcedResponses, documented_responses, preferences
from .responses import send_error, send_json, to_booking_error
from .validation import SchemaValidator
from .wire import booking_bytes, booking_request

OPERATION_ID = "bookSlot"
PATH_PARAMETERS = ("userSlug", "eventSlug")


class SpecMismatch(ValueError):
    """The spec declares something about the book operation that this code does not do."""


def path_pattern(template: str) -> re.Pattern[str]:
    """A regex for an OpenAPI path template, one named group per parameter."""
    parts = re.split(r"\{([^}/]+)\}", template)
    regex = "".join(
        f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part) for index, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


@dataclass(frozen=True)
class BookSpec:
    """What the spec says of the book operation, checked against what this module does."""

    path: str
    pattern: re.Pattern[str]
    media_types: tuple[str, ...]
    body_required: bool
    schema: SchemaValidator
    responses: dict[int, Any]

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> BookSpec:
        resolved = resolve_refs(spec)
        found = [
            (path, item)
            for path, item in resolved["paths"].items()
            if item.get("post", {}).get("operationId") == OPERATION_ID
        ]
        if len(found) != 1:
            raise SpecMismatch(f"the spec must have one POST operation {OPERATION_ID!r}")
        path, item = found[0]
        operation = item["post"]
        parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
        declared = sorted((p["in"], p["name"]) for p in parameters)
        expected = sorted(("path", name) for name in PATH_PARAMETERS)
        if declared != expected:
            raise SpecMismatch(
                f"{OPERATION_ID} declares the parameters {declared}; mock_server.http.book"
                f" reads exactly {expected}"
            )
        content = operation.get("requestBody", {}).get("content", {})
        if list(content) != ["application/json"]:
            raise SpecMismatch(
                f"{OPERATION_ID} accepts {list(content)}; mock_server.http.book reads"
                f" application/json only"
            )
        return cls(
            path=path,
            pattern=path_pattern(path),
            media_types=("application/json",),
            body_required=bool(operation["requestBody"].get("required")),
            schema=SchemaValidator(content["application/json"]["schema"]),
            responses=documented_responses(operation),
        )

    def match(self, scope: Scope) -> re.Match[str] | None:
        """Match the path as sent: in the decoded path an encoded slash (jane%2Fdoe) would
        look like two segments, miss the endpoint, and so escape its rate limit."""
        raw = scope.get("raw_path")
        return self.pattern.match(raw.decode("latin-1") if raw else scope["path"])


def client_ip(scope: Scope) -> str:
    """The TCP peer, or the client a trusted proxy named (set by ProxyHeadersMiddleware)."""
    client = scope.get("client")
    return client[0] if client else "unknown"


class BookOperation:
    """ASGI middleware that answers the book operation itself, and passes the rest on."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        spec: BookSpec,
        service: BookingService,
        limiter: RateLimiter,
        forced: ForcedResponses,
        armed: ArmedResponses,
        faults: RandomFaults,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.spec = spec
        self.service = service
        self.limiter = limiter
        self.forced = forced
        self.armed = armed
        self.faults = faults
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = self.spec.match(scope) if scope["type"] == "http" else None
        if match is None:
            await self.app(scope, receive, send)
        elif scope["method"] != "POST":
            await self._other_method(scope, receive, send)
        else:
            await self._book(scope, receive, send, match)

    async def _book(self, scope: Scope, receive: Receive, send: Send, match: re.Match[str]) -> None:
        try:
            quota = await self.limiter.hit(client_ip(scope))  # rule 1
        except StorageUnavailable as error:
            await send_error(send, error)
            return
        fields = self.limiter.headers(quota)
        try:
            if not quota.allowed:
                raise RateLimited(quota.retry_after)
            user, event = match["userSlug"], match["eventSlug"]
            host, event_type = self.service.find(  # rule 2
                unquote(user) if "%" in user else user, unquote(event) if "%" in event else event
            )
            user_slug, event_slug = host.slug, event_type.slug
            forced = self._forced_answer(scope)
            if forced is None:
                forced = await self._armed_or_random(scope, user_slug, event_slug)
            if forced is not None:
                await self._forced(scope, receive, send, *forced, quota, fields)
                return
            request = booking_request(await self._body(scope, receive))  # rule 3
            booking = await self.service.book(host, event_type, request)  # rules 4 to 10
        except Exception as exc:  # every refusal, and anything unexpected, as {"error"}
            await send_error(send, to_booking_error(exc), fields)
            return
        await send_json(send, 201, booking_bytes(booking), fields)

    @staticmethod
    def _forced_answer(scope: Scope) -> tuple[dict[str, str], Fault | None] | None:
        """What the request's own Prefer header forces, if anything."""
        prefer = preferences(scope)
        if not ForcedResponses.wanted(prefer):
            return None
        try:
            fault = (
                Fault.parse(prefer["fault"], prefer.get("duration")) if "fault" in prefer else None
            )
        except ValueError as error:
            raise PreferError(f"Prefer: {error}.") from None
        return prefer, fault

    async def _armed_or_random(
        self, scope: Scope, user_slug: str, event_slug: str
    ) -> tuple[dict[str, str], Fault | None] | None:
        """An armed answer (after its latency), or a --faults draw, if any."""
        armed = self.armed.take(user_slug, event_slug, client_ip(scope))
        if armed is not None:
            scope[ARMED_KEY] = armed.id
            await asyncio.sleep(self.armed.delay(armed))
            return armed.prefer, armed.fault
        drawn = self.faults.draw()
        return ({}, drawn) if drawn is not None else None

    async def _forced(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        prefer: dict[str, str],
        fault: Fault | None,
        quota: Quota,
        fields: list[tuple[bytes, bytes]],
    ) -> None:
        """A forced answer: the documented response asked for, or a fault mangling it."""
        if fault is not None and fault.needs_connection and TRANSPORT_KEY not in scope:
            raise PreferError(
                f"fault={fault.kind} needs the connection itself, which this server does not"
                " expose to the app; run booking-mock (uvicorn)."
            )
        status, body = self.forced.choose(prefer)
        if status == 429:
            forced_quota = self._forced_429(quota)
            fields = self.limiter.headers(forced_quota)
            if "example" not in prefer and prefer.get("dynamic", "").lower() != "true":
                # The spec's example names its own wait; the page reads the one sent.
                body = RateLimited(forced_quota.retry_after).body()
        raw = json_bytes(body)
        if fault is None:
            await send_json(send, status, raw, fields)
        else:
            await play(fault, scope, receive, send, status=status, body=raw, headers=fields)

    def _forced_429(self, quota: Quota) -> Quota:
        window = self.limiter.window
        return Quota(False, quota.limit, window, 0, window)

    async def _body(self, scope: Scope, receive: Receive) -> Any:
        """Rule 3 on the transport, then on the shape: 413, 415, a JSON object the spec allows."""
        announced = content_type = None
        for name, value in scope["headers"]:  # the first of each, as Starlette's Headers reads
            if name == b"content-length" and announced is None:
                announced = value.decode("latin-1")
            elif name == b"content-type" and content_type is None:
                content_type = value.decode("latin-1")
        if announced and announced.isdigit() and int(announced) > self.max_body_bytes:
            raise self._too_large()
        mime, charset = parse_content_type(content_type)
        # As Connexion does: no Content-Type is taken to be the first the spec accepts.
        if mime is not None and mime not in self.spec.media_types:
            raise UnsupportedMediaType()
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        if not raw and self.spec.body_required:
            raise InvalidRequest("The request body is required: a JSON object.")
        body = parse_json_body(raw, charset)
        self.spec.schema.check_body(body)
        return body

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The request body must not exceed {self.max_body_bytes} bytes.")

    async def _other_method(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Not the operation (Connexion's 405 with Allow), with the client's RateLimit fields."""
        try:
            fields = self.limiter.headers(await self.limiter.peek(client_ip(scope)))
        except StorageUnavailable as error:
            await send_error(send, error)
            return

        async def send_with_fields(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *fields]}
            await send(message)

        await self.app(scope, receive, send_with_fields)
