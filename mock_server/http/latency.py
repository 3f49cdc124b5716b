"""Injected latency: `--latency 200ms` or `100ms-500ms` for all, `Prefer: latency=` for one."""

from __future__ import annotations

import random
import re

from starlette.types import Scope

from .prefer import preferences

_LATENCY = re.compile(r"^\s*(\d+(?:\.\d+)?)(ms|s)?\s*(?:-\s*(\d+(?:\.\d+)?)(ms|s)?\s*)?$")


def parse_latency(text: str, maximum: float = 60) -> tuple[float, float]:
    """``200ms`` -> (0.2, 0.2); ``100ms-500ms`` -> (0.1, 0.5); ``1s``; plain numbers are ms."""
    match = _LATENCY.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a latency such as 200ms or 100ms-500ms")

    def seconds(value: str, unit: str | None) -> float:
        return float(value) / (1 if unit == "s" else 1000)

    low = seconds(match[1], match[2])
    high = seconds(match[3], match[4] or match[2]) if match[3] else low
    if high < low or high > maximum:
        raise ValueError(f"{text!r}: the range must be ascending and at most {maximum:g}s")
    return low, high


def prefer_latency(scope: Scope) -> tuple[float, float] | None:
    """A ``Prefer: latency=300ms`` of this request, read with the Prefer grammar of prefer.py."""
    setting = preferences(scope).get("latency")
    if setting is None:
        return None
    try:
        return parse_latency(setting)
    except ValueError:
        return None


class Latency:
    """The wait before a request is answered: its own ``Prefer: latency``, else --latency."""

    def __init__(self, default: tuple[float, float] | None, rng: random.Random) -> None:
        self.default = default
        self.rng = rng

    def delay(self, scope: Scope) -> float | None:
        """Seconds to wait before answering, or None."""
        latency = prefer_latency(scope) or self.default
        if latency is None:
            return None
        low, high = latency
        return low if low == high else self.rng.uniform(low, high)
