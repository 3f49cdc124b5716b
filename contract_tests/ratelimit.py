"""The RateLimit fields and Retry-After as the target states them, and what they must say.

``parse_quota`` and ``parse_retry_after`` read a response's fields (the IETF draft's
structured fields, RFC 9110's Retry-After). ``in_the_window`` and ``frees_up_in`` are
the oracle the rate-limit tests hold ``r``, ``t`` and ``Retry-After`` to: the sliding
log's arithmetic, repeated on purpose, from what the suite saw of a client's requests.
The suite's clients, kept inside the limit, are in ``clients``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# RFC 8941 pieces the draft's fields use: a list of items, each a string or a
# token with parameters whose values are integers, strings, tokens or booleans.
_TOKEN = r"[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*"
_STRING = r'"(?:[^"\\]|\\["\\])*"'
_INTEGER = r"-?[0-9]{1,15}"
_KEY = r"[a-z*][a-z0-9_\-.*]*"
_BARE = rf"(?:{_STRING}|{_TOKEN}|{_INTEGER}|\?[01])"
_PARAMS = rf"(?:;\s*{_KEY}(?:={_BARE})?)*"
_ITEM = re.compile(rf"^(?P<bare>{_STRING}|{_TOKEN})(?P<params>{_PARAMS})$")
_PARAM_RE = re.compile(rf";\s*(?P<key>{_KEY})(?:=(?P<value>{_BARE}))?")


class FieldSyntaxError(ValueError):
    """A RateLimit field that is not a structured field of the draft's shape."""


@dataclass(frozen=True)
class FieldItem:
    name: str
    params: dict[str, Any]
    # The draft names policies with sf-strings; a token of the same letters is another value.
    is_string: bool = True


def _bare_value(text: str | None) -> Any:
    if text is None:
        return True
    if text.startswith('"'):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if text in ("?1", "?0"):
        return text == "?1"
    if re.fullmatch(_INTEGER, text):
        return int(text)
    return text


def parse_sf_list(value: str) -> list[FieldItem]:
    """An RFC 8941 List of Items with parameters (no inner lists, which the draft never uses)."""
    items = []
    for raw in value.split(","):
        text = raw.strip(" \t")
        match = _ITEM.match(text)
        if match is None:
            raise FieldSyntaxError(f"{text!r} is not a structured-field item with parameters")
        params = {m["key"]: _bare_value(m["value"]) for m in _PARAM_RE.finditer(match["params"])}
        bare = match["bare"]
        items.append(FieldItem(_bare_value(bare), params, bare.startswith('"')))
    return items


@dataclass(frozen=True)
class Quota:
    """A response's RateLimit-Policy and RateLimit fields, parsed and cross-checked."""

    policy: str
    limit: int  # q
    window: int  # w
    remaining: int  # r
    reset: int  # t


def parse_quota(headers: Mapping[str, str]) -> Quota:
    """Parse the two fields of one response; raises FieldSyntaxError saying what is wrong."""
    policy_text = _header(headers, "RateLimit-Policy")
    limit_text = _header(headers, "RateLimit")
    if policy_text is None or limit_text is None:
        missing = [
            name
            for name, text in (("RateLimit-Policy", policy_text), ("RateLimit", limit_text))
            if text is None
        ]
        raise FieldSyntaxError(f"missing {' and '.join(missing)}")
    policies = parse_sf_list(policy_text)
    limits = parse_sf_list(limit_text)
    policy = policies[0]
    for item, field_name in ((policy, "RateLimit-Policy"), *((i, "RateLimit") for i in limits)):
        if not item.is_string:
            raise FieldSyntaxError(f"{field_name} names its policy with a token, not a string")
    quota = next((item for item in limits if item.name == policy.name), None)
    if quota is None:
        raise FieldSyntaxError(
            f"RateLimit {limit_text!r} has no item for the policy {policy.name!r}"
        )
    for item, keys, field_name in (
        (policy, ("q", "w"), "RateLimit-Policy"),
        (quota, ("r", "t"), "RateLimit"),
    ):
        for key in keys:
            value = item.params.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise FieldSyntaxError(
                    f"{field_name} item {item.name!r} needs a non-negative integer {key}="
                )
    result = Quota(
        policy=str(policy.name),
        limit=policy.params["q"],
        window=policy.params["w"],
        remaining=quota.params["r"],
        reset=quota.params["t"],
    )
    if result.remaining > result.limit:
        raise FieldSyntaxError(f"r={result.remaining} exceeds the policy's q={result.limit}")
    if result.limit < 1 or result.window < 1:
        raise FieldSyntaxError("the policy's q and w must be positive")
    return result


# An HTTP-date and the Date it is measured against both have whole seconds only.
DATE_ROUNDING = 1.0
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_DATE_FORMATS = [
    # IMF-fixdate, then the two obsolete forms RFC 9110 (5.6.7) still asks recipients to read.
    re.compile(
        r"^[A-Z][a-z]{2}, (?P<d>\d{2}) (?P<m>[A-Z][a-z]{2}) (?P<y>\d{4}) (?P<t>[\d:]{8}) GMT$"
    ),
    re.compile(
        r"^[A-Z][a-z]+, (?P<d>\d{2})-(?P<m>[A-Z][a-z]{2})-(?P<y>\d{2}) (?P<t>[\d:]{8}) GMT$"
    ),
    re.compile(
        r"^[A-Z][a-z]{2} (?P<m>[A-Z][a-z]{2}) +(?P<d>\d{1,2}) (?P<t>[\d:]{8}) (?P<y>\d{4})$"
    ),
]


def parse_http_date(text: str) -> float | None:
    """An RFC 9110 HTTP-date as seconds since the epoch, or None when it is not one."""
    for pattern in _DATE_FORMATS:
        match = pattern.match(text.strip())
        if match is None or match["m"] not in _MONTHS:
            continue
        year = int(match["y"])
        if year < 100:
            # RFC 850's two digits: no more than 50 years ahead (RFC 9110, 5.6.7).
            this_year = datetime.now(UTC).year
            year += this_year // 100 * 100
            if year > this_year + 50:
                year -= 100
        hour, minute, second = (int(part) for part in match["t"].split(":"))
        month = _MONTHS.index(match["m"]) + 1
        try:
            when = datetime(year, month, int(match["d"]), hour, minute, second, tzinfo=UTC)
        except ValueError:
            return None
        return when.timestamp()
    return None


def parse_retry_after(headers: Mapping[str, str], *, received: float | None = None) -> float | None:
    """Retry-After in seconds from the response, or None when absent or malformed.

    RFC 9110 allows delay-seconds or an HTTP-date; the contract names delay-seconds
    but does not forbid the other. A date is measured against the response's Date,
    else against `received` (this machine's clock, epoch seconds, when it arrived).
    """
    text = _header(headers, "Retry-After")
    if text is None:
        return None
    text = text.strip()
    if re.fullmatch(r"[0-9]+", text):
        return float(int(text))
    when = parse_http_date(text)
    if when is None:
        return None
    date = _header(headers, "Date")
    now = parse_http_date(date) if date is not None else None
    if now is None:
        now = received if received is not None else time.time()
    return max(0.0, when - now)


def retry_after_rounding(headers: Mapping[str, str]) -> float:
    """How far off a parsed Retry-After may be by its notation: a second for an HTTP-date."""
    text = _header(headers, "Retry-After")
    return DATE_ROUNDING if text is not None and parse_http_date(text) is not None else 0.0


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    if isinstance(value, list):  # Schemathesis keeps every value of a header
        value = ", ".join(value)
    return value


@dataclass(frozen=True)
class Observed:
    """One request of a client as the suite saw it: when it left, when its answer came."""

    sent: float  # monotonic seconds
    received: float
    counted: bool  # the target must count it: every request except those answered 429


# Ticks of the target's clock and ours, and rounding to the millisecond, stay below this.
CLOCK_SLACK = 0.05


def _possibly_before(earlier: Observed, current: Observed) -> bool:
    return earlier.sent < current.received


def _surely_before(earlier: Observed, current: Observed) -> bool:
    # Requests that overlap in flight (a burst over several connections) may arrive in
    # either order.
    return earlier.received <= current.sent


def in_the_window(history: Sequence[Observed], index: int, window: float) -> tuple[int, int]:
    """How many of the client's other counted requests are in its window when the target
    handles history[index]: at least (surely in it already), and at most (perhaps).

    A sliding log must refuse history[index] when the least is the limit or more, and
    must accept it when the most is below the limit.
    """
    current = history[index]
    least = most = 0
    for position, other in enumerate(history):
        if position == index or not other.counted or not _possibly_before(other, current):
            continue
        least += _surely_before(other, current) and other.sent + window > current.received
        most += other.received + window > current.sent
    return least, most


def frees_up_in(history: Sequence[Observed], index: int, window: float) -> tuple[float, float]:
    """Bounds on "seconds until one frees up" when the target answered history[index].

    The suite repeats the sliding log's arithmetic on purpose (it is the oracle): the
    answer is the oldest counted request still in the window, plus the window, minus
    the moment the target handled the request. The suite knows each moment only up
    to the request's round trip, so it gives the least and the most it can be.
    ``history`` is every request of one client, in the order sent, from a moment its
    window was empty; (0, 0) means nothing is in the window.
    """
    current = history[index]
    low = high = window if current.counted else math.inf
    maybe = 0.0  # the latest end among requests that may or may not be in the window
    for position, other in enumerate(history):
        if position == index or not other.counted or not _possibly_before(other, current):
            continue
        # other leaves the window at its arrival + window: seconds from the target's
        # handling of current, at least and at most.
        least = other.sent + window - current.received
        most = other.received + window - current.sent
        if most <= 0:
            continue  # it left the window before current arrived
        low = min(low, max(least, 0.0))
        if least > 0 and _surely_before(other, current):  # surely in the window
            high = min(high, most)
        else:
            maybe = max(maybe, most)
    if low == math.inf:
        return 0.0, 0.0
    return low, high if high < math.inf else maybe


def within_rounding(value: float, low: float, high: float, rounding: float = 0.0) -> bool:
    """value is low..high, each rounded to whole seconds either way, give or take `rounding`."""
    least = math.floor(low - CLOCK_SLACK) - rounding
    most = math.ceil(high + CLOCK_SLACK) + rounding
    return least <= value <= most
