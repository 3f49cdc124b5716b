"""Armed responses: answers queued through ``/__admin/arm`` for the next matching book requests.

An end-to-end test of a real page cannot add a ``Prefer`` header to the page's own
``fetch``; it arms the answer instead::

    POST /__admin/arm
    {"times": 1, "match": {"eventSlug": "30min-call"}, "respond": {"code": 429}}

``respond`` takes what ``Prefer`` takes (code, example, dynamic, latency) and a network
fault (fault, duration). Armed entries are tried in the order they were armed; the
first that matches answers, and is spent after ``times`` answers. An armed answer is a
forced response: mock_server.http.book plays it after rules 1 and 2, so it counts
toward the limit, carries the RateLimit fields, and stores nothing. A request with
``Prefer`` of its own is answered by its header and leaves the armed entries alone.

The entries live in this process, as the journal and the clock do.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidRequest, PreferError
from .faults import Fault
from .latency import parse_latency
from .prefer import ForcedResponses

MATCH_FIELDS = ("userSlug", "eventSlug", "client")
ARMED_KEY = "mock_server.armed"  # the id of the armed answer used, for the journal
MAX_ARMED = 1000


@dataclass
class Armed:
    """One armed answer: what it matches, what it answers, how many answers are left."""

    id: str
    times: int
    remaining: int
    match: dict[str, str]
    respond: dict[str, Any]
    prefer: dict[str, str]  # respond in Prefer's words, for ForcedResponses
    latency: tuple[float, float] | None
    fault: Fault | None

    def matches(self, user_slug: str, event_slug: str, client: str) -> bool:
        seen = {"userSlug": user_slug, "eventSlug": event_slug, "client": client}
        return all(seen[name] == value for name, value in self.match.items())

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "times": self.times,
            "remaining": self.remaining,
            "match": dict(self.match),
            "respond": dict(self.respond),
        }


def _preferences(respond: dict[str, Any]) -> dict[str, str]:
    prefer = {}
    if "code" in respond:
        prefer["code"] = str(respond["code"])
    if "example" in respond:
        prefer["example"] = str(respond["example"])
    if respond.get("dynamic"):
        prefer["dynamic"] = "true"
    if "fault" in respond:
        prefer["fault"] = str(respond["fault"])
    return prefer


class ArmedResponses:
    """The queue of armed answers of the book operation, in arming order."""

    def __init__(self, forced: ForcedResponses, *, rng: random.Random | None = None) -> None:
        self.forced = forced
        self.rng = rng or random.Random()
        self._entries: list[Armed] = []
        self._ids = itertools.count(1)

    def arm(self, times: int, match: dict[str, str], respond: dict[str, Any]) -> Armed:
        """Queue an answer; InvalidRequest says what of ``respond`` is not answerable."""
        if len(self._entries) >= MAX_ARMED:
            raise InvalidRequest(f"At most {MAX_ARMED} answers can be armed; clear some first.")
        unknown = set(match) - set(MATCH_FIELDS)
        if unknown:
            raise InvalidRequest(f"match takes {', '.join(MATCH_FIELDS)} only.")
        prefer = _preferences(respond)
        if not ForcedResponses.wanted(prefer):
            raise InvalidRequest("respond needs one of code, example, dynamic or fault.")
        try:
            self.forced.check(prefer, source="respond: ")
            fault = (
                Fault.parse(respond["fault"], respond.get("duration"))
                if "fault" in prefer
                else None
            )
            latency = parse_latency(respond["latency"]) if "latency" in respond else None
        except PreferError as error:
            raise InvalidRequest(error.message) from None
        except ValueError as error:
            raise InvalidRequest(f"respond: {error}") from None
        if "duration" in respond and fault is None:
            raise InvalidRequest("respond: duration goes with a fault (slow-body or timeout).")
        armed = Armed(
            id=f"arm-{next(self._ids)}",
            times=times,
            remaining=times,
            match=dict(match),
            respond=dict(respond),
            prefer=prefer,
            latency=latency,
            fault=fault,
        )
        self._entries.append(armed)
        return armed

    def take(self, user_slug: str, event_slug: str, client: str) -> Armed | None:
        """The first armed answer for this request, one of its times spent; None if none."""
        for armed in self._entries:
            if armed.matches(user_slug, event_slug, client):
                armed.remaining -= 1
                if armed.remaining == 0:
                    self._entries.remove(armed)
                return armed
        return None

    def delay(self, armed: Armed) -> float:
        if armed.latency is None:
            return 0.0
        low, high = armed.latency
        return low if low == high else self.rng.uniform(low, high)

    def list(self) -> list[Armed]:
        return list(self._entries)

    def clear(self) -> int:
        cleared = len(self._entries)
        self._entries.clear()
        return cleared
