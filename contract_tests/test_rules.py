"""Behaviour scenarios: one test per claim of PRODUCT.md's rules 2 to 10, judged over HTTP.

Slots come from the profile and the clock: the nearest bookable ones for what
must succeed, deliberately wrong ones for what must fail. A slot the target
says is taken (an earlier run's booking) is skipped, never failed on.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from . import slots, spec
from .bodies import OMIT, booking_body
from .profile import EventType, Host, Profile
from .slots import Slot, utc_text
from .suite import Suite
from .support import (
    BOOKING_ID,
    assert_error,
    assert_refused_before_availability,
    booking_schema_errors,
    parse_utc,
    pick,
    plain,
)
from .target import SLOT_TAKEN, ContractViolation, Exchange, Target


def body_for(profile: Profile, event_type: EventType, **changes: Any) -> Any:
    """A body maker for Target.book_free_slot."""
    return lambda slot: booking_body(profile, event_type, slot, **changes)


def free_slot(contract: Suite, event_type: EventType) -> Slot:
    """The nearest slot not known to be busy; for requests that must be refused anyway."""
    host = contract.profile.host_of(event_type)
    return next(contract.ledger.free_slots(host, event_type))


def book(contract: Suite, event_type: EventType, **changes: Any) -> tuple[Slot, Exchange]:
    """Book the nearest free slot with a valid body plus changes; the booking must succeed."""
    slot, exchange = contract.target.book_free_slot(
        event_type, body_for(contract.profile, event_type, **changes)
    )
    assert exchange.status == 201, f"a valid booking of the free slot {slot} was refused"
    return slot, exchange


def refuse_each_until_free(
    contract: Suite, event_type: EventType, make_body: Any, why: str
) -> Exchange:
    """Send make_body(slot) for free slots until the answer is not "slot taken" (rule 8 first)."""
    host = contract.profile.host_of(event_type)
    for slot in contract.ledger.free_slots(host, event_type):
        exchange = contract.target.post_booking(event_type, make_body(slot))
        if not exchange.is_slot_taken:
            return exchange
        contract.ledger.mark_busy(event_type, slot)
    raise ContractViolation(f"no free slot of {event_type.label} left to show that {why}")


# Rule 2: 404s, before any validation.


def test_rule_2_unknown_user_is_404(contract: Suite) -> None:
    """A request for a user the target does not know is 404, even with a bookable slot."""
    event_type = plain(contract.profile)
    body = booking_body(contract.profile, event_type, free_slot(contract, event_type))
    exchange = contract.target.post_booking(event_type, body, host_slug="no-such-user-contract")
    assert_error(exchange, 404)


def test_rule_2_unknown_event_type_is_404(contract: Suite) -> None:
    """A request for an event type the user does not have is 404."""
    event_type = plain(contract.profile)
    body = booking_body(contract.profile, event_type, free_slot(contract, event_type))
    exchange = contract.target.post_booking(event_type, body, event_slug="no-such-event-contract")
    assert_error(exchange, 404)


def test_rule_2_event_type_of_another_host_is_404(contract: Suite) -> None:
    """An event type that exists, but under another host, is 404 for this host."""
    for host in contract.profile.hosts:
        own = {e.slug for e in host.event_types}
        for other in contract.profile.event_types():
            if other.host_slug != host.slug and other.slug not in own:
                body = booking_body(contract.profile, other, free_slot(contract, other))
                exchange = contract.target.post_booking(other, body, host_slug=host.slug)
                assert_error(exchange, 404)
                return
    pytest.skip("the profile has no two hosts with event types of different slugs")


@pytest.mark.parametrize(
    ("content", "media_type"),
    [(b"{not json", "application/json"), (b"startTime=soon", "text/plain")],
    ids=["body-not-json", "not-application-json"],
)
@pytest.mark.parametrize("unknown", ["user", "event type"])
def test_rule_2_404_comes_before_validation(
    contract: Suite, unknown: str, content: bytes, media_type: str
) -> None:
    """An unknown user or event type is 404 even when the body is malformed."""
    event_type = plain(contract.profile)
    names = (
        {"host_slug": "no-such-user-contract"}
        if unknown == "user"
        else {"event_slug": "no-such-event-contract"}
    )
    exchange = contract.target.post_booking(
        event_type, content=content, headers={"Content-Type": media_type}, **names
    )
    assert_error(exchange, 404)


# Rule 3: the request's shape.


def required_fields() -> list[str]:
    return list(spec.load_spec()["components"]["schemas"]["BookingRequest"]["required"])


def test_rule_3_missing_required_field_is_400(contract: Suite) -> None:
    """A body without any one of the required fields is 400, and books nothing."""
    event_type = plain(contract.profile)
    slot = free_slot(contract, event_type)
    answers = {}
    for name in required_fields():
        body = booking_body(contract.profile, event_type, slot, **{name: OMIT})
        answers[name] = contract.target.post_booking(event_type, body)
    wrong = {name: e.status for name, e in answers.items() if e.status != 400}
    assert not wrong, f"a body without these required fields was not refused with 400: {wrong}"
    for exchange in answers.values():
        assert_error(exchange, 400)


def test_rule_3_body_that_is_not_json_is_400(contract: Suite) -> None:
    """A body that does not parse as JSON is 400."""
    event_type = plain(contract.profile)
    exchange = contract.target.post_booking(
        event_type, content=b'{"startTime": ', headers={"Content-Type": "application/json"}
    )
    assert_error(exchange, 400)


def test_rule_3_body_that_is_not_an_object_is_400(contract: Suite) -> None:
    """A JSON body that is not an object is 400."""
    event_type = plain(contract.profile)
    body = booking_body(contract.profile, event_type, free_slot(contract, event_type))
    exchange = contract.target.post_booking(event_type, [body])
    assert_error(exchange, 400)


def test_rule_3_body_that_is_not_application_json_is_415(contract: Suite) -> None:
    """A body sent as another media type than application/json is 415."""
    event_type = plain(contract.profile)
    body = booking_body(contract.profile, event_type, free_slot(contract, event_type))
    exchange = contract.target.post_booking(
        event_type, content=repr(body).encode(), headers={"Content-Type": "text/plain"}
    )
    assert_error(exchange, 415)


def test_rule_3_body_over_64_kib_is_413(contract: Suite) -> None:
    """A body larger than 64 KiB is 413."""
    event_type = plain(contract.profile)
    body = booking_body(
        contract.profile, event_type, free_slot(contract, event_type), inviteeNotes="x" * 70_000
    )
    exchange = contract.target.post_booking(event_type, body)
    assert_error(exchange, 413)


def test_rule_3_fractional_seconds_are_accepted_and_normalised(contract: Suite) -> None:
    """Times as Date.toISOString() sends them (.000Z) book, and come back as ...:SSZ."""
    event_type = plain(contract.profile)

    def make(slot: Slot) -> dict[str, Any]:
        return booking_body(
            contract.profile,
            event_type,
            slot,
            startTime=slot.start.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            endTime=slot.end.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        )

    slot, exchange = contract.target.book_free_slot(event_type, make)
    assert exchange.status == 201, "a booking with fractional-second times was refused"
    booking = exchange.json()
    assert (booking["startTime"], booking["endTime"]) == (utc_text(slot.start), utc_text(slot.end))


def _offset_text(instant: datetime, host: Host) -> str:
    offset = instant.astimezone(host.timezone).utcoffset() or timedelta(0)
    if not offset:
        offset = timedelta(hours=2)  # a UTC host: any other offset names the same instant
    return instant.astimezone(timezone(offset)).isoformat()


def test_rule_3_offset_times_are_accepted_and_normalised_to_utc(contract: Suite) -> None:
    """Times with an explicit offset (...T10:00:00-04:00) book, and come back in UTC."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)

    def make(slot: Slot) -> dict[str, Any]:
        return booking_body(
            contract.profile,
            event_type,
            slot,
            startTime=_offset_text(slot.start, host),
            endTime=_offset_text(slot.end, host),
        )

    slot, exchange = contract.target.book_free_slot(event_type, make)
    assert exchange.status == 201, "a booking with offset times was refused"
    booking = exchange.json()
    assert (booking["startTime"], booking["endTime"]) == (utc_text(slot.start), utc_text(slot.end))


def test_rule_3_time_without_offset_is_rejected(contract: Suite) -> None:
    """A time without an offset (2026-03-16T14:00:00) is 400, never guessed."""
    event_type = plain(contract.profile)
    slot = free_slot(contract, event_type)
    body = booking_body(
        contract.profile,
        event_type,
        slot,
        startTime=slot.start.strftime("%Y-%m-%dT%H:%M:%S"),
        endTime=slot.end.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    exchange = contract.target.post_booking(event_type, body)
    assert_error(exchange, 400)


def test_rule_3_unknown_top_level_fields_are_ignored(contract: Suite) -> None:
    """Fields the API does not define are ignored (forward compatibility), not refused."""
    event_type = plain(contract.profile)
    _, exchange = contract.target.book_free_slot(
        event_type,
        body_for(contract.profile, event_type, referrer="newsletter", utm={"campaign": "spring"}),
    )
    assert exchange.status == 201, "a body with fields the API does not define was refused"


# Rule 4: honeypot.


def test_rule_4_filled_honeypot_is_refused_and_stores_nothing(contract: Suite) -> None:
    """A non-empty honeypotValue gets a generic 400, and the slot stays free."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    for attempt, slot in enumerate(contract.ledger.free_slots(host, event_type)):
        refused = contract.target.post_booking(
            event_type, booking_body(contract.profile, event_type, slot, honeypotValue="I am a bot")
        )
        assert refused.status != 201, "a request with a filled honeypot was booked"
        assert_error(refused, 400)
        assert "honeypot" not in (refused.error or "").lower(), (
            "the refusal names the honeypot: a bot learns what to leave empty"
        )
        again = contract.target.post_booking(
            event_type, booking_body(contract.profile, event_type, slot)
        )
        if again.status == 201:
            contract.ledger.mark_busy(event_type, slot)
            return
        assert again.is_slot_taken, "a valid booking of a free slot was refused"
        contract.ledger.mark_busy(event_type, slot)
        # Taken by someone else, or by the honeypot request: only a run of them tells.
        assert attempt < 3, (
            "4 slots in a row were taken right after a refused honeypot request for them:"
            " the honeypot requests were stored"
        )
    raise ContractViolation(f"no free slot of {event_type.label} left")


# Rule 5: CAPTCHA.


def captcha_type(profile: Profile) -> EventType:
    return pick(profile, lambda e: e.captcha, "has CAPTCHA enabled")


@pytest.mark.parametrize("token", [OMIT, ""], ids=["absent", "empty"])
def test_rule_5_missing_captcha_token_is_refused(contract: Suite, token: object) -> None:
    """On a CAPTCHA event type, a missing or empty captchaToken is 400."""
    event_type = captcha_type(contract.profile)
    body = booking_body(
        contract.profile, event_type, free_slot(contract, event_type), captchaToken=token
    )
    exchange = contract.target.post_booking(event_type, body)
    assert_refused_before_availability(exchange, "a CAPTCHA event type needs a token")


def test_rule_5_refused_captcha_token_is_rejected(contract: Suite) -> None:
    """On a CAPTCHA event type, a token the verifier refuses is 400."""
    event_type = captcha_type(contract.profile)
    assert contract.profile.captcha is not None
    body = booking_body(
        contract.profile,
        event_type,
        free_slot(contract, event_type),
        captchaToken=contract.profile.captcha.failing_token,
    )
    exchange = contract.target.post_booking(event_type, body)
    assert_refused_before_availability(exchange, "the verifier refuses this token")


def test_rule_5_passing_captcha_token_books(contract: Suite) -> None:
    """On a CAPTCHA event type, a token the verifier accepts books the slot."""
    book(contract, captcha_type(contract.profile))


def test_rule_5_captcha_comes_before_duration(contract: Suite) -> None:
    """A missing token answers first, even when the duration is wrong too."""
    event_type = captcha_type(contract.profile)
    slot = free_slot(contract, event_type)
    alone = contract.target.post_booking(
        event_type, booking_body(contract.profile, event_type, slot, captchaToken=OMIT)
    )
    both = contract.target.post_booking(
        event_type,
        booking_body(
            contract.profile,
            event_type,
            slot,
            captchaToken=OMIT,
            endTime=utc_text(slot.end + event_type.slot_interval),
        ),
    )
    assert_error(alone, 400)
    assert_error(both, 400)
    assert both.error == alone.error, "the wrong duration answered before the missing token"


# Rule 6: duration.


@pytest.mark.parametrize("change", ["longer", "shorter", "empty", "reversed"])
def test_rule_6_wrong_duration_is_refused(contract: Suite, change: str) -> None:
    """endTime - startTime must be exactly the event type's duration, endTime after startTime."""
    event_type = plain(contract.profile)
    slot = free_slot(contract, event_type)
    end = {
        "longer": slot.end + event_type.slot_interval,
        "shorter": slot.end - timedelta(minutes=1),
        "empty": slot.start,
        "reversed": slot.start - event_type.duration,
    }[change]
    body = booking_body(contract.profile, event_type, slot, endTime=utc_text(end))
    exchange = contract.target.post_booking(event_type, body)
    assert_refused_before_availability(exchange, f"a slot {change} than the event type's duration")


# Rule 7: time bounds.


def test_rule_7_start_inside_minimum_notice_is_refused(contract: Suite) -> None:
    """A start sooner than the minimum notice from now is 400."""
    event_type = pick(
        contract.profile,
        lambda e: e.minimum_notice >= timedelta(minutes=10) and not e.captcha,
        "has a minimum notice of 10 minutes or more",
    )
    body = booking_body(contract.profile, event_type, slots.inside_minimum_notice(event_type))
    exchange = contract.target.post_booking(event_type, body)
    assert_refused_before_availability(exchange, "the start is inside the minimum notice")


def test_rule_7_start_in_the_past_is_refused(contract: Suite) -> None:
    """A slot that started yesterday is 400."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    body = booking_body(contract.profile, event_type, slots.in_the_past(host, event_type))
    exchange = contract.target.post_booking(event_type, body)
    assert_refused_before_availability(exchange, "the slot is in the past")


def test_rule_7_start_beyond_the_booking_horizon_is_refused(contract: Suite) -> None:
    """A slot a day past the booking horizon, inside the host's availability, is 400."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    body = booking_body(contract.profile, event_type, slots.beyond_horizon(host, event_type))
    exchange = contract.target.post_booking(event_type, body)
    assert_refused_before_availability(exchange, "the slot is beyond the booking horizon")


def test_rule_7_first_slot_after_the_minimum_notice_is_accepted(contract: Suite) -> None:
    """The nearest bookable slot (minimum notice from now, plus a margin) books."""
    book(contract, plain(contract.profile))


def test_rule_7_last_slot_inside_the_booking_horizon_is_accepted(contract: Suite) -> None:
    """The furthest bookable slot (booking horizon from now, less a margin) books."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    slot, exchange = contract.target.book_free_slot(
        event_type,
        body_for(contract.profile, event_type),
        slots=contract.ledger.free_slots(host, event_type, latest_first=True),
    )
    assert exchange.status == 201, f"the slot {slot}, inside the booking horizon, was refused"


# Rule 8: availability.


def _windows_ahead(host: Host, event_type: EventType) -> list[tuple[datetime, datetime]]:
    earliest, latest = slots.bookable_bounds(event_type, slots.now())
    day = slots.local_day(host, earliest)
    out = []
    while day <= slots.local_day(host, latest):
        out += [w for w in slots.windows_on(host, day) if earliest <= w[0] - event_type.duration]
        day += timedelta(days=1)
    return [w for w in out if w[1] + event_type.duration <= latest]


def _bookable_instant(event_type: EventType, slot: Slot) -> bool:
    earliest, latest = slots.bookable_bounds(event_type, slots.now())
    return earliest <= slot.start <= latest


def test_rule_8_slot_off_the_grid_is_unavailable(contract: Suite) -> None:
    """A slot inside the availability but off the slot grid is 'no longer available'."""
    event_type = pick(
        contract.profile,
        lambda e: e.slot_interval >= timedelta(minutes=2) and not e.captcha,
        "has a slot interval of 2 minutes or more",
    )
    host = contract.profile.host_of(event_type)
    shift = timedelta(minutes=event_type.slot_interval.seconds // 120 or 1)
    for slot in contract.ledger.free_slots(host, event_type):
        off = slot.shifted(shift)
        if slots.is_available(host, off) and not slots.is_on_grid(host, event_type, off):
            exchange = contract.target.post_booking(
                event_type, booking_body(contract.profile, event_type, off)
            )
            assert_error(exchange, 400, message=SLOT_TAKEN)
            return
    pytest.skip(f"no off-grid slot of {event_type.label} lies inside the availability")


def test_rule_8_slot_outside_the_weekly_availability_is_unavailable(contract: Suite) -> None:
    """Slots ending at the opening time, starting at the closing time, or running past it."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    cases = {}
    for start, end in _windows_ahead(host, event_type):
        candidates = {
            "before opening": Slot(start - event_type.duration, start),
            "after closing": Slot(end, end + event_type.duration),
        }
        if event_type.duration > event_type.slot_interval:
            late = end - event_type.slot_interval
            candidates["running past closing"] = Slot(late, late + event_type.duration)
        for name, slot in candidates.items():
            if name not in cases and not slots.is_available(host, slot):
                cases[name] = slot
        if len(cases) == len(candidates):
            break
    assert cases, f"the profile gives {host.slug} no window to probe"
    for name, slot in cases.items():
        exchange = contract.target.post_booking(
            event_type, booking_body(contract.profile, event_type, slot)
        )
        assert exchange.status != 201, f"a slot {name} ({slot}) was booked"
        assert_error(exchange, 400, message=SLOT_TAKEN)


def test_rule_8_day_without_availability_is_unavailable(contract: Suite) -> None:
    """A slot on a weekday the host has no window, at an hour open on other days."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    open_day = next(d for d in range(7) if host.weekly[d])
    closed = [d for d in range(7) if not host.weekly[d]]
    if not closed:
        pytest.skip(f"{host.slug} is available every day of the week")
    opening = host.weekly[open_day][0].start
    earliest, latest = slots.bookable_bounds(event_type, slots.now())
    day = slots.local_day(host, earliest) + timedelta(days=1)
    while day.weekday() not in closed:
        day += timedelta(days=1)
    start = datetime.combine(day, opening, host.timezone).astimezone(UTC)
    slot = Slot(start, start + event_type.duration)
    assert slot.start <= latest, "no closed day inside the booking horizon"
    exchange = contract.target.post_booking(
        event_type, booking_body(contract.profile, event_type, slot)
    )
    assert exchange.status != 201, f"a slot on a closed day ({slot}) was booked"
    assert_error(exchange, 400, message=SLOT_TAKEN)


def test_rule_8_booked_slot_is_unavailable(contract: Suite) -> None:
    """Once booked, the same slot is refused with 'no longer available'."""
    event_type = plain(contract.profile)
    slot, _ = book(contract, event_type)
    again = contract.target.post_booking(
        event_type, booking_body(contract.profile, event_type, slot)
    )
    assert again.status != 201, f"the slot {slot} was booked twice"
    assert_error(again, 400, message=SLOT_TAKEN)


def _overlapping(contract: Suite, booked: EventType, slot: Slot, other: EventType) -> Slot | None:
    """A grid slot of `other` inside the availability that overlaps `slot` of `booked`."""
    host = contract.profile.host_of(other)
    busy_start, busy_end = slots.occupied(booked, slot)
    day = slots.local_day(host, slot.start)
    for candidate in slots.grid(host, other, day - timedelta(days=1), day + timedelta(days=1)):
        start, end = slots.occupied(other, candidate)
        if start < busy_end and busy_start < end and _bookable_instant(other, candidate):
            return candidate
    return None


def _pair_on_one_host(profile: Profile, first: Any, second: Any) -> tuple[EventType, EventType]:
    for host in profile.hosts:
        for a in host.event_types:
            for b in host.event_types:
                if a is not b and first(a) and second(b):
                    return a, b
    pytest.skip("the profile has no host with two such event types")


def test_rule_8_booking_blocks_overlapping_slots_of_other_event_types(contract: Suite) -> None:
    """A booking makes the host busy: an overlapping slot of another event type is refused."""
    first, second = _pair_on_one_host(
        contract.profile, lambda e: not e.requires_approval, lambda e: True
    )
    for _ in range(3):
        slot, _ = book(contract, first)
        overlapping = _overlapping(contract, first, slot, second)
        if overlapping is None:
            continue
        exchange = contract.target.post_booking(
            second, booking_body(contract.profile, second, overlapping)
        )
        assert exchange.status != 201, (
            f"{second.label} booked {overlapping}, overlapping {first.label}'s booking of {slot}"
        )
        assert_error(exchange, 400, message=SLOT_TAKEN)
        return
    pytest.skip(f"no grid slot of {second.label} overlaps one of {first.label}")


def test_rule_8_pending_approval_blocks_the_slot(contract: Suite) -> None:
    """A booking waiting for approval keeps the host busy as a confirmed one does."""
    approval = pick(contract.profile, lambda e: e.requires_approval, "requires approval")
    host = contract.profile.host_of(approval)
    others = [e for e in host.event_types if e is not approval] or [approval]
    # Whether the answer says PendingApproval is rule 10's claim; here only the blocking counts.
    slot, _ = book(contract, approval)
    for other in others:
        overlapping = _overlapping(contract, approval, slot, other)
        if overlapping is not None:
            again = contract.target.post_booking(
                other, booking_body(contract.profile, other, overlapping)
            )
            assert again.status != 201, (
                f"{other.label} booked {overlapping} over a pending booking of {slot}"
            )
            assert_error(again, 400, message=SLOT_TAKEN)
            return
    pytest.skip(f"no slot of {host.slug}'s event types overlaps {approval.label}'s")


def test_rule_8_adjacent_slots_do_not_overlap(contract: Suite) -> None:
    """A slot starting where the last booking (and its buffers) ends is still free."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    for _ in range(3):
        slot, _ = book(contract, event_type)
        busy_end = slots.occupied(event_type, slot)[1]
        day = slots.local_day(host, slot.start)
        after = next(
            (
                s
                for s in slots.grid(host, event_type, day, day)
                if slots.occupied(event_type, s)[0] >= busy_end
            ),
            None,
        )
        if after is None or not contract.ledger.is_free(event_type, after):
            continue
        exchange = contract.target.post_booking(
            event_type, booking_body(contract.profile, event_type, after)
        )
        if exchange.is_slot_taken:
            contract.ledger.mark_busy(event_type, after)
            continue  # someone else's booking: try another pair
        assert exchange.status == 201, f"{after}, right after the booking of {slot}, was refused"
        contract.ledger.mark_busy(event_type, after)
        return
    pytest.skip(f"no two adjacent free slots of {event_type.label} were found")


def test_rule_8_other_hosts_are_not_blocked(contract: Suite) -> None:
    """One host's booking does not make another host busy at the same time."""
    hosts = contract.profile.hosts
    if len(hosts) < 2:
        pytest.skip("the profile has a single host")
    first = next((e for e in hosts[0].event_types if not e.captcha), hosts[0].event_types[0])
    second = hosts[1].event_types[0]
    taken = 0
    for slot in contract.ledger.free_slots(hosts[0], first):
        overlapping = _overlapping(contract, first, slot, second)
        if overlapping is None or not contract.ledger.is_free(second, overlapping):
            continue
        booked = contract.target.post_booking(first, booking_body(contract.profile, first, slot))
        contract.ledger.mark_busy(first, slot)
        if booked.is_slot_taken:
            continue
        assert booked.status == 201, f"a valid booking of the free slot {slot} was refused"
        exchange = contract.target.post_booking(
            second, booking_body(contract.profile, second, overlapping)
        )
        contract.ledger.mark_busy(second, overlapping)
        if exchange.is_slot_taken and taken < 2:
            taken += 1
            continue  # someone else's booking: try another pair
        assert exchange.status == 201, (
            f"{second.label} refused {overlapping}, free for its host, because {first.label}"
            f" booked {slot}"
        )
        return
    pytest.skip(f"{hosts[0].slug} and {hosts[1].slug} are never available at the same time")


def _opening_slots(host: Host, event_type: EventType, first: date, last: date) -> list[Slot]:
    """The first slot of each of the host's windows on local days first..last."""
    out = []
    day = first
    while day <= last:
        for start, end in slots.windows_on(host, day):
            if start + event_type.duration <= end:
                out.append(Slot(start, start + event_type.duration))
        day += timedelta(days=1)
    return out


def test_rule_8_dst_change_is_handled(contract: Suite) -> None:
    """Across a DST change, the availability stays at the same local hours."""
    for event_type in contract.profile.event_types():
        host = contract.profile.host_of(event_type)
        earliest, latest = slots.bookable_bounds(event_type, slots.now())
        changes = slots.dst_changes(host, earliest, latest - timedelta(days=8))
        if changes and not event_type.captcha:
            break
    else:
        pytest.skip(
            "no host of the profile changes its UTC offset (DST) within the booking horizon"
            " from now: nothing to check"
        )
    change = changes[0]
    before = (change - timedelta(hours=2)).astimezone(host.timezone).utcoffset()
    after = (change + timedelta(hours=2)).astimezone(host.timezone).utcoffset()
    assert before is not None and after is not None
    shift = abs(after - before)
    change_day = slots.local_day(host, change)
    sides = {
        "before": (
            max(slots.local_day(host, earliest), change_day - timedelta(days=7)),
            change_day - timedelta(days=1),
        ),
        "after": (change_day + timedelta(days=1), change_day + timedelta(days=7)),
    }
    checked = []
    for side, (first, last) in sides.items():
        for slot in _opening_slots(host, event_type, first, last):
            on_side = slot.end <= change if side == "before" else slot.start >= change
            early = slot.shifted(-shift)
            if (
                not on_side
                or not earliest <= slot.start <= latest
                or not contract.ledger.is_free(event_type, slot)
                or slots.is_available(host, early)
            ):
                continue
            # The window's first slot books at this side's offset; the same wall-clock
            # hour under the other offset lies before opening and is refused.
            refused = contract.target.post_booking(
                event_type, booking_body(contract.profile, event_type, early)
            )
            booked = contract.target.post_booking(
                event_type, booking_body(contract.profile, event_type, slot)
            )
            contract.ledger.mark_busy(event_type, slot)
            if booked.is_slot_taken:
                continue  # someone else's booking: try the next day
            assert booked.status == 201, (
                f"{slot}, when {host.slug}'s day opens {side} the DST change of {change},"
                f" was refused"
            )
            assert refused.status != 201, (
                f"{early}, {shift} before {host.slug}'s day opens {side} the DST change, was booked"
            )
            assert_error(refused, 400, message=SLOT_TAKEN)
            checked.append(side)
            break
    assert "after" in checked, f"no free opening slot after the DST change of {change} was found"


# Rule 9: custom fields.


def required_field_type(profile: Profile) -> EventType:
    return pick(profile, lambda e: bool(e.required_fields), "has a required custom field")


@pytest.mark.parametrize("answer", ["absent", "blank"])
def test_rule_9_missing_required_custom_field_is_refused(contract: Suite, answer: str) -> None:
    """A required custom field missing or blank is 400."""
    event_type = required_field_type(contract.profile)
    key = event_type.required_fields[0]
    answers = {} if answer == "absent" else {key: "   "}
    answers.update({k: "Acme" for k in event_type.required_fields[1:]})
    exchange = refuse_each_until_free(
        contract,
        event_type,
        body_for(contract.profile, event_type, customFields=answers),
        f"a {answer} required field is refused",
    )
    assert exchange.status != 201, f"a booking with the required field {key!r} {answer} was made"
    assert_error(exchange, 400)


def test_rule_9_undefined_custom_field_keys_are_ignored(contract: Suite) -> None:
    """Custom field keys the event type does not define are accepted and ignored."""
    event_type = plain(contract.profile)
    answers = {key: "Acme" for key in event_type.required_fields}
    answers["favouriteColourContract"] = "teal"
    book(contract, event_type, customFields=answers)


def test_rule_9_availability_comes_before_custom_fields(contract: Suite) -> None:
    """An unavailable slot is 'no longer available', even when a required field is missing."""
    event_type = required_field_type(contract.profile)
    host = contract.profile.host_of(event_type)
    start, _ = _windows_ahead(host, event_type)[0]
    slot = Slot(start - event_type.duration, start)
    exchange = contract.target.post_booking(
        event_type, booking_body(contract.profile, event_type, slot, customFields={})
    )
    assert_error(exchange, 400, message=SLOT_TAKEN)


# Rule 10: the booking.


def expected_location(profile: Profile, event_type: EventType) -> tuple[str, str | None]:
    """The location type, and its value when the profile fixes it."""
    kind = event_type.location.type
    if kind == "Phone":
        return kind, profile.host_of(event_type).phone
    if kind == "InPerson":
        return kind, event_type.location.address
    return kind, None


MEETING_URL = {
    "GoogleMeet": re.compile(r"https://meet\.google\.com/\S+"),
    "Zoom": re.compile(r"https://([a-z0-9-]+\.)?zoom\.us/\S+"),
}


def test_rule_10_booking_echoes_and_normalises_the_request(contract: Suite) -> None:
    """The 201 body is the documented Booking: the request's slot and invitee, in UTC."""
    event_type = plain(contract.profile)
    before = datetime.now(UTC)
    slot, exchange = book(contract, event_type)
    after = datetime.now(UTC)
    assert exchange.media_type == "application/json"
    booking = exchange.json()
    errors = booking_schema_errors(booking)
    assert not errors, "the 201 body is not the document's Booking: " + "; ".join(errors)
    sent = json.loads(exchange.request_body or b"{}")
    assert BOOKING_ID.fullmatch(booking["id"]), f"id {booking['id']!r} is not bkg_ + 12 or more"
    assert booking["eventTypeId"] == event_type.id
    assert booking["status"] == "Confirmed"
    assert booking["startTime"] == utc_text(slot.start)
    assert booking["endTime"] == utc_text(slot.end)
    assert booking["invitee"] == {
        "name": sent["inviteeName"],
        "email": sent["inviteeEmail"],
        "phone": sent["inviteePhone"],
        "timezone": sent["inviteeTimezone"],
    }
    created = parse_utc(booking["createdAt"])
    # The target's clock may run a little apart from this machine's.
    assert before - timedelta(minutes=5) <= created <= after + timedelta(minutes=5), (
        f"createdAt {booking['createdAt']} is not the server's now ({utc_text(before)})"
    )


def test_rule_10_location_comes_from_the_event_type(contract: Suite) -> None:
    """A meeting URL for GoogleMeet/Zoom, the host's phone for Phone, the address for InPerson."""
    for event_type in contract.profile.event_types():
        _, exchange = book(contract, event_type)
        location = exchange.json().get("location")
        kind, value = expected_location(contract.profile, event_type)
        assert isinstance(location, dict) and location.get("type") == kind, (
            f"{event_type.label}: location {location!r}, expected type {kind}"
        )
        if value is not None:
            assert location.get("value") == value, f"{event_type.label}: location {location!r}"
        else:
            assert MEETING_URL[kind].fullmatch(str(location.get("value"))), (
                f"{event_type.label}: {location.get('value')!r} is not a {kind} meeting URL"
            )


def test_rule_10_approval_event_type_is_pending_approval(contract: Suite) -> None:
    """An event type the host approves by hand books with status PendingApproval."""
    event_type = pick(contract.profile, lambda e: e.requires_approval, "requires approval")
    _, exchange = book(contract, event_type)
    assert exchange.json().get("status") == "PendingApproval"


def test_rule_10_phone_is_absent_when_not_sent(contract: Suite) -> None:
    """invitee.phone is present only when the request sent inviteePhone."""
    _, exchange = book(contract, plain(contract.profile), inviteePhone=OMIT)
    assert "phone" not in exchange.json().get("invitee", {})


def test_rule_10_booking_ids_are_unique(contract: Suite) -> None:
    """Every booking gets its own id, bkg_ and at least 12 letters and digits."""
    event_type = plain(contract.profile)
    for _ in range(3):
        book(contract, event_type)
    ids = contract.ledger.booking_ids
    assert all(BOOKING_ID.fullmatch(i) for i in ids), ids
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    assert not repeated, f"ids given to two bookings: {repeated}"


def _burst(
    target: Target, event_type: EventType, profile: Profile, slot: Slot, size: int
) -> list[Exchange]:
    """`size` requests for one slot, released together, each as its own client when possible."""
    clients = (
        [target.pool.fresh() for _ in range(size)]
        if target.pool.simulate
        else [target.pool.acquire(cost=size)] * size
    )
    barrier = threading.Barrier(size)
    answers: list[Exchange | None] = [None] * size

    def send(index: int) -> None:
        body = booking_body(profile, event_type, slot)
        barrier.wait()
        answers[index] = target.post_booking(event_type, body, client=clients[index])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [a for a in answers if a is not None]


def test_rule_10_concurrent_burst_for_one_slot_yields_exactly_one_201(contract: Suite) -> None:
    """Of simultaneous requests for one slot, one books; the rest are 'no longer available'."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    size = min(8, contract.profile.rate_limit.limit - 1)
    if size < 2:
        pytest.skip("the rate limit leaves room for fewer than two simultaneous requests")
    for slot in contract.ledger.free_slots(host, event_type):
        answers = _burst(contract.target, event_type, contract.profile, slot, size)
        contract.ledger.mark_busy(event_type, slot)
        statuses = sorted(a.status for a in answers)
        if all(a.is_slot_taken for a in answers):
            continue  # taken before the burst: try the next slot
        assert statuses.count(201) == 1, f"{size} simultaneous requests for {slot} gave {statuses}"
        assert all(a.status == 201 or a.is_slot_taken for a in answers), statuses
        return
