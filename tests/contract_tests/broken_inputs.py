"""Servers that break on one class of hostile input, for the suite's robustness tests to catch.

Each is the reference behind a layer that first does what a naive server does with the
body (Python's json.loads, a UTF-8 database write, datetime arithmetic) and answers as
that server would: a 500 where it crashes, a booking where it lets the input through.
Every other request reaches the reference unchanged.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from starlette.types import Scope

from tests.faults import UNLIMITED, Captured, Layer, reference, refusal

from .broken import Fault


def crash() -> Captured:
    return refusal("Internal server error.", status=500)


def _decoded(body: bytes) -> Any:
    """The body as Python's json.loads reads it (NaN included), or None where it fails."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _parse_error(body: bytes) -> Exception | None:
    """What Python's json.loads raises on the body, if anything."""
    try:
        json.loads(body)
    except (ValueError, RecursionError) as exc:
        return exc
    return None


def _recursion_crashes(scope: Scope, body: bytes) -> Any:
    """json.loads without a depth limit: a RecursionError deep down is a 500."""
    return crash() if isinstance(_parse_error(body), RecursionError) else None


def _digit_limit_crashes(scope: Scope, body: bytes) -> Any:
    """int() refuses more than 4,300 digits with a ValueError nobody catches."""
    error = _parse_error(body)
    return crash() if isinstance(error, ValueError) and "digits" in str(error) else None


def _non_finite_accepted(scope: Scope, body: bytes) -> Any:
    """Python's json.loads takes NaN and Infinity; the server then ignores the field."""
    data = _decoded(body)
    if not isinstance(data, dict):
        return None
    cleaned = {
        key: value
        for key, value in data.items()
        if not (isinstance(value, float) and not math.isfinite(value))
    }
    return (scope, json.dumps(cleaned).encode()) if cleaned != data else None


def _surrogates_crash(scope: Scope, body: bytes) -> Any:
    """Writing the invitee to a UTF-8 store fails on a lone surrogate: a 500."""
    for text in _strings(_decoded(body)):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return crash()
    return None


def _calendar_overflow_crashes(scope: Scope, body: bytes) -> Any:
    """fromisoformat takes the offset; converting to UTC overflows: a 500."""
    data = _decoded(body)
    if not isinstance(data, dict):
        return None
    for name in ("startTime", "endTime"):
        try:
            datetime.fromisoformat(str(data.get(name)).upper()).astimezone(UTC)
        except OverflowError:
            return crash()
        except ValueError:
            pass
    return None


def _fault(name: str, before: Any, test: str) -> Fault:
    return Fault(
        name,
        lambda _: Layer(reference(), before=before),
        "robustness",
        (test,),
        ("--rate-limit", UNLIMITED),
    )


FAULTS = [
    _fault(
        "deep nesting crashes the JSON parser",
        _recursion_crashes,
        "test_robustness_deep_nesting_is_refused",
    ),
    _fault(
        "a 5,000-digit number crashes int()",
        _digit_limit_crashes,
        "test_robustness_huge_numbers_are_refused",
    ),
    _fault(
        "NaN and Infinity parsed and ignored",
        _non_finite_accepted,
        "test_robustness_non_finite_literals_are_refused",
    ),
    _fault(
        "a lone surrogate crashes the UTF-8 store",
        _surrogates_crash,
        "test_robustness_lone_surrogates_are_refused",
    ),
    _fault(
        "an offset past year 9999 overflows",
        _calendar_overflow_crashes,
        "test_robustness_instants_outside_the_calendar_are_refused",
    ),
]
