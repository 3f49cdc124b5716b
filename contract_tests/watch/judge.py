"""What one answer of the book operation must be, by the API document: the watch's shape checks.

The rate-limit rules (the RateLimit fields, ``Retry-After``, the window) are the load
tests' verifier's, over the stream of exchanges; this module judges each answer alone:

- ``status-undocumented``: the status is not among the operation's responses;
- ``content-type``: the media type is not the one documented for that status;
- ``body-not-json``: a JSON response whose body does not parse;
- ``schema``: the body does not match the documented schema of that status;
- ``error-format``: a 4xx or 5xx whose body is not ``{"error": "<message>"}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema

from .. import spec
from ..shape import FORMATS

RULES = {
    "status-undocumented": "the status is one the API document lists for the book operation",
    "content-type": "the media type is the one documented for that status (application/json)",
    "body-not-json": "a JSON answer's body parses as JSON",
    "schema": "the body matches the documented schema of its status",
    "error-format": 'a 4xx or 5xx answers {"error": "<message>"} with a non-empty message',
}


@dataclass(frozen=True)
class Breach:
    """One shape rule an answer broke, and how."""

    rule: str
    detail: str


@dataclass(frozen=True)
class _Documented:
    media_types: frozenset[str]
    validator: jsonschema.Draft4Validator | None


def _resolve(node: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


@cache
def _documented() -> dict[int, _Documented]:
    document = spec.load_spec()
    operation = document["paths"][spec.book_path()]["post"]
    out = {}
    for status, response in operation["responses"].items():
        if not str(status).isdigit():
            continue
        content = _resolve(response, document).get("content", {})
        validator = None
        if "application/json" in content and "schema" in content["application/json"]:
            schema = {**content["application/json"]["schema"], "components": document["components"]}
            validator = jsonschema.Draft4Validator(schema, format_checker=FORMATS)
        out[int(status)] = _Documented(frozenset(content), validator)
    return out


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def judge_answer(
    status: int, content_type: str | None, body: bytes, *, complete: bool = True
) -> list[Breach]:
    """The shape rules a book answer breaks; ``complete=False`` (a body cut for size)
    leaves the body unjudged."""
    documented = _documented().get(status)
    if documented is None:
        listed = ", ".join(str(s) for s in sorted(_documented()))
        return [Breach("status-undocumented", f"status {status}; the document lists {listed}")]
    breaches = []
    mime = media_type(content_type)
    if documented.media_types and mime not in documented.media_types:
        expected = ", ".join(sorted(documented.media_types))
        breaches.append(Breach("content-type", f"Content-Type {content_type!r}, not {expected}"))
        return breaches
    if mime != "application/json" or not complete:
        return breaches
    try:
        parsed = json.loads(body)
    except ValueError as error:
        return [*breaches, Breach("body-not-json", f"{error}: {body[:80]!r}")]
    if status >= 400:
        message = parsed.get("error") if isinstance(parsed, dict) else None
        if not isinstance(message, str) or not message.strip():
            shown = json.dumps(parsed)[:120]
            breaches.append(Breach("error-format", f"the body {shown} has no error message"))
            return breaches
    if documented.validator is not None:
        for error in documented.validator.iter_errors(parsed):
            where = ".".join(map(str, error.absolute_path)) or "(body)"
            breaches.append(Breach("schema", f"{where}: {error.message}"))
            break  # the first says enough; the count is per answer
    return breaches
