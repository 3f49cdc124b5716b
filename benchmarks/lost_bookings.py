"""Lost bookings: the 201s a run's clients were told, against the bookings the server stores."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import httpx


def stored_booking_ids(url: str) -> list[str]:
    """The ids of every booking the server stores (the control API lists them all at once)."""
    answer = httpx.get(f"{url}/__admin/bookings", timeout=120)
    answer.raise_for_status()
    return [booking["id"] for booking in answer.json()["bookings"]]


def reset_bookings(url: str) -> None:
    """Empty the server's bookings, and only them, through its control API."""
    answer = httpx.post(f"{url}/__admin/reset", params={"only": "bookings"}, timeout=60)
    answer.raise_for_status()


@dataclass
class Bookings:
    """What the clients were told was booked, against what the server stores."""

    created: int  # 201 answers
    stored: int  # bookings stored afterwards that were not there before
    lost_ids: list[str]  # ids of 201s that are not stored
    unseen: int  # stored bookings whose 201 no client received (in flight at wrk's stop)
    repeated_ids: int  # 201s that gave an id already given to an earlier one
    without_id: int  # 201s whose body had no id

    @property
    def lost(self) -> int:
        """201s without a stored booking: by id, and by count for what ids cannot tell."""
        return max(len(self.lost_ids), self.created - self.stored)


def compare_bookings(before: Sequence[str], told: Sequence[str], after: Sequence[str]) -> Bookings:
    """Match told, the booking id of every 201 ("?" for none), with the stored bookings.

    before and after are the ids the server stored before and after the run.
    """
    with_id = [i for i in told if i != "?"]
    new = set(after) - set(before)
    return Bookings(
        created=len(told),
        stored=len(new),
        lost_ids=sorted(set(with_id) - new),
        unseen=len(new - set(with_id)),
        repeated_ids=sum(n - 1 for n in Counter(with_id).values()),
        without_id=len(told) - len(with_id),
    )
