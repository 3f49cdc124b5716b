"""Whether a booking request has rule 3's shape: the document's schema, plus what it cannot say.

The fuzzing judges the target's answer by this: a request of the right shape
(once its slot and tokens are made bookable) must book, one of the wrong shape
must be refused. The document's formats are checked for real here (RFC 3339
with an offset, a zone the IANA database knows), as PRODUCT.md's field limits say.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema

from . import spec

MAX_BODY = 64 * 1024
MAX_CUSTOM_FIELD_KEY = 100
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)

FORMATS = jsonschema.FormatChecker(formats=())

# Characters regex dialects disagree on: ECMA-262 (what JSON Schema names), Python
# and Rust (Unicode White_Space) each count a different set of them as \s.
CONTESTED_WHITESPACE = frozenset("\x1c\x1d\x1e\x1f\x85\u180e\ufeff")
# Fields whose pattern ends in $, which Python also matches before a final newline.
ANCHORED = ("inviteeEmail", "inviteePhone", "inviteeLocale")


@FORMATS.checks("date-time")
def is_rfc3339(value: object) -> bool:
    """An RFC 3339 instant with an explicit offset, on a real calendar day."""
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper())
    except ValueError:
        return False
    return True


@FORMATS.checks("iana-timezone")
def is_iana_timezone(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        ZoneInfo(value)
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


@cache
def _validator() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(spec.component("BookingRequest"), format_checker=FORMATS)


def shape_errors(body: Any, size: int | None = None) -> list[str]:
    """Why the body (of `size` bytes as sent) is not a well-formed booking request, if it is not."""
    errors = [
        f"{'.'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
        for e in _validator().iter_errors(body)
    ]
    if isinstance(body, dict) and isinstance(body.get("customFields"), dict):
        errors += [
            f"customFields: the key {key[:20]!r}... is longer than {MAX_CUSTOM_FIELD_KEY}"
            for key in body["customFields"]
            if len(key) > MAX_CUSTOM_FIELD_KEY
        ]
    if size is None:
        size = len(json.dumps(body, ensure_ascii=False).encode())
    if size > MAX_BODY:
        errors.append(f"(body): {size} bytes, more than {MAX_BODY}")
    return errors


def is_contested(body: Any) -> bool:
    """Whether the body's shape depends on the regex dialect; such a body is not judged."""
    if isinstance(body, dict):
        if any(isinstance(body.get(name), str) and body[name].endswith("\n") for name in ANCHORED):
            return True
        return any(is_contested(key) or is_contested(value) for key, value in body.items())
    if isinstance(body, list):
        return any(is_contested(item) for item in body)
    return isinstance(body, str) and not CONTESTED_WHITESPACE.isdisjoint(body)


@cache
def _field_validator(name: str) -> jsonschema.Draft4Validator:
    schema = spec.component("BookingRequest")
    prop = {**schema["properties"][name], "components": schema["components"]}
    return jsonschema.Draft4Validator(prop, format_checker=FORMATS)


def field_is_valid(name: str, value: Any) -> bool:
    """Whether one property of a booking request has its documented shape."""
    return _field_validator(name).is_valid(value)
