"""The one way a request body becomes JSON, for the book endpoint and the control API.

``json.loads`` alone is not safe on hostile input: it recurses once per nesting level
(a RecursionError deep down), converts any number of digits (``int`` refuses more than
4,300), turns ``1e999`` into infinity, accepts ``NaN`` and ``Infinity`` (not JSON under
RFC 8259), and hands lone UTF-16 surrogates (``"\\ud800"``) on as strings that cannot be
encoded as UTF-8. Each of those is a 400 here, with a message naming what was wrong,
before any other code sees the body.

Most bodies are none of that: UTF-8, shallow, no number of 19 digits or more. Those go
to orjson, several times quicker than ``json.loads`` with the hooks; it refuses invalid
UTF-8, lone surrogates, ``NaN`` and infinite numbers by itself, and it parses numbers
of up to 18 digits exactly as ``json.loads`` (longer integers it would read as floats).
Whatever orjson refuses, and every other body, takes the careful path, which says why.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import orjson

from ..errors import FieldError, InvalidRequest

MAX_DEPTH = 64
"""Arrays and objects nested deeper than this are refused; the API's bodies need 2."""

MAX_NUMBER_LENGTH = 100
"""Characters in one number literal; a double needs 24, a 64-bit integer 20."""

_CHARSET = re.compile(r"charset=\"?([^\";\s]+)", re.IGNORECASE)
_TOO_DEEP = f"The request body is nested deeper than {MAX_DEPTH} levels."
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
# A \uD800-\uDFFF escape; json.loads joins a valid pair into one code point, so any
# surrogate left in a decoded string was alone.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# A number literal over MAX_NUMBER_LENGTH characters, or an integer orjson would read as
# a float, holds a run of 19 digits (a literal has at most four other characters).
# Nineteen digits in a row, found as nineteen zeros once every digit is a zero: a tenth
# of the time of a regular expression's search over a body.
_LONG_DIGITS = b"0" * 19
_DIGITS_AS_ZEROS = bytes.maketrans(b"0123456789", b"0" * 10)
_UTF8 = (None, "utf-8", "utf8", "UTF-8")


class _Refused(ValueError):
    """Raised from inside json.loads' hooks, carrying the client's message."""


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_LENGTH:
        raise _Refused(f"holds a number of {len(text)} characters; at most {MAX_NUMBER_LENGTH}")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_LENGTH:
        raise _Refused(f"holds a number of {len(text)} characters; at most {MAX_NUMBER_LENGTH}")
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"holds the number {text}, outside the range of a double")
    return value


def _parse_constant(name: str) -> Any:
    raise _Refused(f"is not JSON: {name} is not a JSON value (RFC 8259)")


def _deeper_than(text: str, limit: int) -> bool:
    if text.count("[") + text.count("{") <= limit:  # the common case, in C
        return False
    depth = 0
    for match in _BRACKETS.finditer(_STRINGS.sub("", text)):
        if match[0] in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def field_path(parts: Any) -> str:
    """``customFields.topic``, ``items[2]``: a field as the ``details`` entries name it."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _unencodable(value: Any, path: list[str | int]) -> FieldError | None:
    """The first string (or key) of a decoded body that UTF-8 cannot encode."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return FieldError(
                field_path(path) or "(body)", "Holds a lone UTF-16 surrogate: not Unicode text."
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            try:
                key.encode("utf-8")
            except UnicodeEncodeError:
                return FieldError(
                    field_path(path) or "(body)",
                    "Has a key holding a lone UTF-16 surrogate: not Unicode text.",
                )
            found = _unencodable(item, [*path, key])
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _unencodable(item, [*path, index])
            if found:
                return found
    return None


def media_type(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The Content-Type's media type (lower case) and charset, from a request's headers."""
    return parse_content_type(headers.get("content-type"))


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """A Content-Type value's media type (lower case) and charset; None for no value."""
    if value is None:
        return None, None
    mime, _, params = value.partition(";")
    charset = _CHARSET.search(params)
    return mime.strip().lower(), charset[1] if charset else None


def decode_text(raw: bytes, encoding: str | None) -> str:
    """The body as text in its declared charset (UTF-8 by default), or InvalidRequest."""
    name = encoding or "utf-8"
    try:
        text = raw.decode(name)
        text.encode("utf-8")  # some codecs (UTF-7) decode to lone surrogates
    except (UnicodeError, LookupError, ValueError):
        raise InvalidRequest(f"The request body is not valid {name[:40]} text.") from None
    return text


def parse_json_body(raw: bytes, encoding: str | None) -> Any:
    """A request body as JSON within the limits above, or InvalidRequest saying why not."""
    if (
        encoding in _UTF8
        and raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH
        and _LONG_DIGITS not in raw.translate(_DIGITS_AS_ZEROS)
    ):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # the careful reading below finds what is wrong, and says so
    text = decode_text(raw, encoding)
    if _deeper_than(text, MAX_DEPTH):
        raise InvalidRequest(_TOO_DEEP)
    try:
        body = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except _Refused as exc:
        raise InvalidRequest(f"The request body {exc}.") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}.") from None
    except RecursionError:  # below MAX_DEPTH only if the stack is nearly spent already
        raise InvalidRequest(_TOO_DEEP) from None
    if _SURROGATE_ESCAPE.search(text):
        bad = _unencodable(body, [])
        if bad:
            raise InvalidRequest("The request body is not Unicode text.", details=[bad])
    return body
