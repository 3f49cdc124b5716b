"""Forced responses with ``Prefer``, in Stoplight Prism's syntax.

``Prefer: code=429``, ``Prefer: example=slotUnavailable``, ``Prefer: dynamic=true`` and
combinations such as ``code=400, example=validationError``. A forced response comes
from the spec's own examples and schemas, stores nothing, and carries the same
RateLimit fields as a real one (rule 1 still applies first); mock_server.http.book asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.types import Scope

from ..errors import PreferError
from ..fake import DynamicResponder


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


_KEY = "mock_server.prefer"


def preferences(scope: Scope) -> dict[str, str]:
    """The request's ``Prefer`` settings, lower-case names; parsed once per request."""
    cached = scope.get(_KEY)
    if cached is None:
        cached = scope[_KEY] = {}
        for name, raw in scope["headers"]:
            if name != b"prefer":
                continue
            for part in re.split(r"[,;]", raw.decode("latin-1")):
                key, _, setting = part.partition("=")
                if key.strip():
                    cached[key.strip().lower()] = setting.strip().strip('"')
    return cached


class ForcedResponses:
    """The answers ``Prefer`` may ask of one operation, from its documented responses."""

    def __init__(self, responses: dict[int, DocumentedResponse], dynamic: DynamicResponder) -> None:
        self.responses = responses
        self.dynamic = dynamic

    @staticmethod
    def wanted(prefer: dict[str, str]) -> bool:
        return bool({"code", "example", "dynamic", "fault"} & prefer.keys())

    def check(self, prefer: dict[str, str], source: str = "Prefer: ") -> None:
        """Raise PreferError unless the preferences name a documented response."""
        self._pick(prefer, source)

    def choose(self, prefer: dict[str, str], source: str = "Prefer: ") -> tuple[int, Any]:
        """The status and body the preferences ask for."""
        status, example = self._pick(prefer, source)
        response = self.responses[status]
        if example is not None:
            return status, response.examples[example]
        if prefer.get("dynamic", "").lower() == "true" or not response.examples:
            return status, self.dynamic.response(response.schema, response.examples)
        return status, next(iter(response.examples.values()))

    def _pick(self, prefer: dict[str, str], source: str) -> tuple[int, str | None]:
        """The documented status, and the example's name when one is asked for."""
        codes = ", ".join(str(code) for code in sorted(self.responses))
        status: int | None = None
        if "code" in prefer:
            if not prefer["code"].isdigit() or int(prefer["code"]) not in self.responses:
                raise PreferError(
                    f"{source}code={prefer['code']} is not a documented response of this"
                    f" operation; choose one of {codes}."
                )
            status = int(prefer["code"])
        if "example" in prefer:
            name = prefer["example"]
            candidates = [self.responses[status]] if status else list(self.responses.values())
            for response in candidates:
                if name in response.examples:
                    return response.status, name
            choices = ", ".join(n for r in candidates for n in r.examples)
            where = f" of code {status}" if status else ""
            raise PreferError(
                f"{source}example={name} is not an example{where}; choose one of {choices}."
            )
        if status is None:
            status = min(code for code in self.responses if 200 <= code < 300)
        return status, None
