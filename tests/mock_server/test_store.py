"""The memory store: a host is never booked twice for overlapping spans, whatever the order."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from mock_server.domain.store import Booking, Invitee, MemoryBookingStore

BASE = datetime(2026, 3, 16, 13, tzinfo=UTC)


def booking(booking_id: str, start_minutes: int, length: int, host: str = "jane") -> Booking:
    start = BASE + timedelta(minutes=start_minutes)
    end = start + timedelta(minutes=length)
    return Booking(
        id=booking_id,
        host_slug=host,
        event_slug="call",
        event_type_id="evt",
        status="Confirmed",
        start=start,
        end=end,
        busy_start=start,
        busy_end=end,
        invitee=Invitee("A", "a@example.com", "UTC"),
        location_type="Zoom",
        location_value="https://zoom.us/j/1",
        created_at=BASE,
    )


def test_store_accepts_exactly_the_non_overlapping_spans():
    """Against a brute-force check, for random spans in random order."""
    rng = random.Random(7)

    async def run() -> None:
        store = MemoryBookingStore()
        accepted: list[Booking] = []
        for i in range(400):
            candidate = booking(f"b{i}", rng.randrange(0, 2000, 5), rng.choice((5, 15, 30, 60)))
            expected = not any(
                a.busy_start < candidate.busy_end and candidate.busy_start < a.busy_end
                for a in accepted
            )
            assert await store.add_if_free(candidate) is expected, candidate
            if expected:
                accepted.append(candidate)
            if accepted and rng.random() < 0.1:  # cancel one now and then
                gone = accepted.pop(rng.randrange(len(accepted)))
                assert await store.delete(gone.id)
        assert {b.id for b in await store.list()} == {b.id for b in accepted}

    asyncio.run(run())


def test_other_hosts_do_not_block():
    async def run() -> list[bool]:
        store = MemoryBookingStore()
        return [
            await store.add_if_free(booking("a", 0, 30, host="jane")),
            await store.add_if_free(booking("b", 0, 30, host="john")),
            await store.add_if_free(booking("c", 29, 30, host="jane")),
            await store.add_if_free(booking("d", 30, 30, host="jane")),
        ]

    assert asyncio.run(run()) == [True, True, False, True]


def test_store_is_busy_reads_the_overlap_without_holding_the_span():
    """Rule 8 before rule 9: is_busy says whether a span overlaps a stored booking."""

    async def run() -> None:
        store = MemoryBookingStore()
        assert await store.add_if_free(booking("a", 60, 30))  # 14:00-14:30
        span = booking("probe", 30, 60)  # 13:30-14:30 overlaps
        assert await store.is_busy("jane", span.busy_start, span.busy_end)
        before, after = booking("b", 30, 30), booking("c", 90, 30)  # adjacent on both sides
        assert not await store.is_busy("jane", before.busy_start, before.busy_end)
        assert not await store.is_busy("jane", after.busy_start, after.busy_end)
        assert not await store.is_busy("john", span.busy_start, span.busy_end)
        # A read holds nothing: the adjacent spans still book.
        assert await store.add_if_free(before) and await store.add_if_free(after)

    asyncio.run(run())


def test_busy_spans_are_exactly_the_hosts_spans_that_overlap_the_range():
    """Against a brute-force filter, for random spans and random ranges."""
    rng = random.Random(11)

    async def run() -> None:
        store = MemoryBookingStore()
        for i in range(300):
            host = rng.choice(("jane", "john"))
            await store.add_if_free(booking(f"b{i}", rng.randrange(0, 3000, 5), 15, host))
        stored = await store.list("jane")
        for _ in range(200):
            low = BASE + timedelta(minutes=rng.randrange(-100, 3100))
            high = low + timedelta(minutes=rng.randrange(1, 400))
            expected = sorted((b.busy_start, b.busy_end) for b in stored if b.overlaps(low, high))
            assert await store.busy_spans("jane", low, high) == expected
        assert await store.busy_spans("nobody", BASE, BASE + timedelta(days=9)) == []

    asyncio.run(run())


def test_one_hosts_list_holds_its_bookings_only_and_count_counts_them_all():
    async def run() -> None:
        store = MemoryBookingStore()
        await store.add_if_free(booking("a", 0, 30, "jane"))
        await store.add_if_free(booking("b", 60, 30, "jane"))
        await store.add_if_free(booking("c", 0, 30, "john"))
        assert [b.id for b in await store.list("jane")] == ["a", "b"]
        assert [b.id for b in await store.list("nobody")] == []
        assert {b.id for b in await store.list()} == {"a", "b", "c"}
        assert await store.count() == 3
        await store.delete("a")
        assert await store.count() == 2 and [b.id for b in await store.list("jane")] == ["b"]

    asyncio.run(run())


def test_a_booking_comes_back_from_the_store_exactly_as_it_went_in():
    """Packed and unpacked: edge instants, microseconds, None fields, any text."""
    first = datetime(1, 1, 1, tzinfo=UTC)
    last = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    odd = Booking(
        id="bkg_édge",
        host_slug="jane",
        event_slug="call",
        event_type_id="evt",
        status="PendingApproval",
        start=first,
        end=first + timedelta(microseconds=1),
        busy_start=first,
        busy_end=last,
        invitee=Invitee('Zoë \ud800 "quoted"', "z@example.com", "Asia/Tokyo", None, "ja"),
        location_type="Phone",
        location_value="",
        created_at=last,
        custom_fields={"topic": "日本語", "empty": ""},
        notes=None,
        source="BookingPage",
    )

    async def run() -> None:
        store = MemoryBookingStore()
        assert await store.add_if_free(odd)
        assert await store.get(odd.id) == odd
        assert await store.list("jane") == [odd]
        assert await store.busy_spans("jane", first, last) == [(first, last)]
        assert await store.delete(odd.id)
        assert await store.get(odd.id) is None

    asyncio.run(run())


def test_stored_bookings_add_no_object_the_garbage_collector_walks():
    """The tail-latency rule (mock_server.gc_tuning): a full collection's walk does not
    grow with the bookings stored, so neither does its pause."""
    import gc

    async def fill(store: MemoryBookingStore, first: int, count: int) -> None:
        for i in range(first, first + count):
            assert await store.add_if_free(booking(f"b{i}", 30 * i, 30, host=f"h{i % 3}"))

    async def run() -> int:
        store = MemoryBookingStore()
        await fill(store, 0, 30)  # every host exists from here on
        gc.collect()
        before = len(gc.get_objects())
        await fill(store, 30, 3000)
        gc.collect()
        return len(gc.get_objects()) - before

    assert asyncio.run(run()) < 30
