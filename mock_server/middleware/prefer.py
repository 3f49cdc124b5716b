"""Forced responses with ``Prefer``, in Stoplight Prism's syntax.

``Prefer: code=429``, ``Prefer: example=slotUnavailable``, ``Prefer: dynamic=true`` and
combinations such as ``code=400, example=validationError``. A forced response comes
from the spec's own examples and schemas, stores nothing, and carries the same
RateLimit fields as a real one (the gate adds them; rule 1 still applies first).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import BookingError
from ..fake import DynamicResponder
from ..ratelimit import POLICY_NAME, RateLimiter
from ._send import send_error
from .gate import match_path


class PreferError(BookingError):
    """A Prefer header asking for something the operation does not document."""


@dataclass(frozen=True)
class DocumentedResponse:
    status: int
    schema: dict[str, Any]
    examples: dict[str, Any]


def documented_responses(operation: dict[str, Any]) -> dict[int, DocumentedResponse]:
    """The JSON responses of a (ref-resolved) operation, by status."""
    out = {}
    for status, response in operation["responses"].items():
        content = response.get("content", {}).get("application/json")
        if content is None or not status.isdigit():
            continue
        examples = {name: e["value"] for name, e in content.get("examples", {}).items()}
        if not examples and "example" in content:
            examples = {"default": content["example"]}
        out[int(status)] = DocumentedResponse(int(status), content.get("schema", {}), examples)
    return out


def parse_prefer(scope: Scope) -> dict[str, str]:
    preferences: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name == b"prefer":
            for part in re.split(r"[,;]", value.decode("latin-1")):
                key, _, setting = part.partition("=")
                if key.strip():
                    preferences[key.strip().lower()] = setting.strip().strip('"')
    return preferences


class ForcedResponses:
    def __init__(
        self,
        app: ASGIApp,
        *,
        path_pattern: re.Pattern[str],
        responses: dict[int, DocumentedResponse],
        limiter: RateLimiter,
        dynamic: DynamicResponder,
    ) -> None:
        self.app = app
        self.pattern = path_pattern
        self.responses = responses
        self.limiter = limiter
        self.dynamic = dynamic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not match_path(self.pattern, scope)
        ):
            await self.app(scope, receive, send)
            return
        prefer = parse_prefer(scope)
        if not {"code", "example", "dynamic"} & prefer.keys():
            await self.app(scope, receive, send)
            return
        try:
            status, body = self.choose(prefer)
        except PreferError as error:
            await send_error(send, error)
            return
        payload = json.dumps(body).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        if status == 429:
            window = str(self.limiter.window).encode()
            headers += [
                (b"ratelimit", f'"{POLICY_NAME}";r=0;t={self.limiter.window}'.encode()),
                (b"retry-after", window),
            ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def choose(self, prefer: dict[str, str]) -> tuple[int, Any]:
        """The status and body the preferences ask for."""
        codes = ", ".join(str(code) for code in sorted(self.responses))
        status: int | None = None
        if "code" in prefer:
            if not prefer["code"].isdigit() or int(prefer["code"]) not in self.responses:
                raise PreferError(
                    f"Prefer: code={prefer['code']} is not a documented response of this"
                    f" operation; choose one of {codes}."
                )
            status = int(prefer["code"])
        if "example" in prefer:
            name = prefer["example"]
            candidates = [self.responses[status]] if status else list(self.responses.values())
            for response in candidates:
                if name in response.examples:
                    return response.status, response.examples[name]
            choices = ", ".join(n for r in candidates for n in r.examples)
            where = f" of code {status}" if status else ""
            raise PreferError(
                f"Prefer: example={name} is not an example{where}; choose one of {choices}."
            )
        if status is None:
            status = min(code for code in self.responses if 200 <= code < 300)
        response = self.responses[status]
        if prefer.get("dynamic", "").lower() == "true":
            return status, self.dynamic.response(response.schema, response.examples)
        if response.examples:
            return status, next(iter(response.examples.values()))
        return status, self.dynamic.response(response.schema, response.examples)
