"""Deliberately broken booking servers: the reference with one rule broken, for the suite to catch.

Each entry of FAULTS is one broken server, as data: how to build it, which tests to
run (``select``, a pytest ``-k``) and which of them must fail (``fails``); every
other selected test must pass. The servers are test code only (`tests.faults`): an
ASGI layer in front of the reference that rewrites a request or an answer
(`broken_rewrites`), a booking store that forgets a rule, or a dataset that
contradicts the profile the suite is given (`broken_datasets`). The rate-limit
faults are in `broken_limits`, the hostile inputs in `broken_inputs`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.faults import UNLIMITED, BrokenStore, Layer, booking_answer, json_request, reference

from . import broken_rewrites as rewrite
from .broken_datasets import nothing_required, on_dataset, set_all
from .broken_rewrites import KNOWN_FIELDS, refuse_if

__all__ = ["FAULTS", "UNLIMITED", "Fault", "reference"]


@dataclass(frozen=True)
class Fault:
    """One broken rule: how to serve it, what to run, and which tests must fail."""

    name: str
    build: Callable[[Path], Any]
    select: str  # pytest -k: the broken rule's tests and some neighbours that must pass
    fails: tuple[str, ...]  # fnmatch patterns of test names; every other selected test passes
    args: tuple[str, ...] = ("--rate-limit", UNLIMITED)


def _layer(**kwargs: Any) -> Callable[[Path], Any]:
    return lambda _: Layer(reference(), **kwargs)


def _store(fault: str, pause: float = 0.05) -> Callable[[Path], Any]:
    return lambda _: reference(store=BrokenStore(fault, pause=pause))


FAULTS = [
    # Response shape (rule 10).
    Fault(
        "201 without createdAt",
        _layer(after=booking_answer(lambda b, r: b.pop("createdAt"))),
        "rule_10 and not concurrent",
        ("test_rule_10_booking_echoes_and_normalises_the_request",),
    ),
    Fault(
        "invitee.phone dropped",
        _layer(after=booking_answer(lambda b, r: b["invitee"].pop("phone", None))),
        "rule_10 and not concurrent",
        ("test_rule_10_booking_echoes_and_normalises_the_request",),
    ),
    Fault(
        "every booking gets the same id",
        _layer(after=booking_answer(lambda b, r: b.update(id="bkg_SameIdEveryTime"))),
        "rule_10 and not concurrent",
        ("test_rule_10_booking_ids_are_unique",),
    ),
    Fault(
        "Phone location without the host's number",
        _layer(
            after=booking_answer(
                lambda b, r: (
                    b["location"].update(value="call us")
                    if b["location"]["type"] == "Phone"
                    else None
                )
            )
        ),
        "rule_10 and not concurrent",
        ("test_rule_10_location_comes_from_the_event_type",),
    ),
    Fault(
        "approval event types come back Confirmed",
        _layer(after=booking_answer(lambda b, r: b.update(status="Confirmed"))),
        "rule_10 and not concurrent or rule_8_pending",
        ("test_rule_10_approval_event_type_is_pending_approval",),
    ),
    Fault(
        "times echoed as sent, not normalised to UTC",
        _layer(after=booking_answer(rewrite.times_as_sent)),
        "rule_3 or rule_10_booking_echoes",
        (
            "test_rule_3_fractional_seconds_are_accepted_and_normalised",
            "test_rule_3_offset_times_are_accepted_and_normalised_to_utc",
        ),
    ),
    # Validation (rule 3 and the field limits).
    Fault(
        "inviteeEmail not validated",
        _layer(
            before=json_request(
                lambda s, d: (
                    d.update(inviteeEmail="valid@example.com")
                    if not re.fullmatch(
                        r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+", str(d.get("inviteeEmail"))
                    )
                    or len(str(d.get("inviteeEmail"))) > 254
                    else None
                )
            )
        ),
        "field_limits",
        ("test_field_limits_values_past_the_limits_are_refused[[]inviteeEmail:*",),
    ),
    Fault(
        "an email with + refused",
        _layer(before=json_request(refuse_if(lambda d: "+" in str(d.get("inviteeEmail"))))),
        "field_limits",
        ("test_field_limits_values_at_the_limits_are_accepted[[]an email with +*",),
    ),
    Fault(
        "the name limit counts UTF-8 bytes",
        _layer(
            before=json_request(refuse_if(lambda d: len(str(d.get("inviteeName")).encode()) > 200))
        ),
        "field_limits",
        ("test_field_limits_values_at_the_limits_are_accepted[[]a 200-character name*",),
    ),
    Fault(
        "inviteeName limited to 100 characters",
        _layer(before=json_request(refuse_if(lambda d: len(str(d.get("inviteeName"))) > 100))),
        "field_limits",
        ("test_field_limits_values_at_the_limits_are_accepted[[]longest values[]]",),
    ),
    Fault(
        "unknown top-level fields refused",
        _layer(before=json_request(refuse_if(lambda d: bool(set(d) - KNOWN_FIELDS)))),
        "rule_3",
        ("test_rule_3_unknown_top_level_fields_are_ignored",),
    ),
    Fault(
        "a chunked body over 64 KiB not capped",
        _layer(before=rewrite.chunked_uncapped),
        "rule_3",
        ("test_rule_3_chunked_body_over_64_kib_is_413",),
    ),
    Fault(
        "fractional seconds refused",
        _layer(before=json_request(refuse_if(lambda d: "." in str(d.get("startTime"))))),
        "rule_3",
        ("test_rule_3_fractional_seconds_are_accepted_and_normalised",),
    ),
    Fault(
        "a time without offset taken as UTC",
        _layer(before=json_request(rewrite.naive_as_utc)),
        "rule_3",
        ("test_rule_3_time_without_offset_is_rejected",),
    ),
    # Time and slot rules (6, 7, 8).
    Fault(
        "duration not checked",
        _layer(before=json_request(rewrite.no_duration_check)),
        "rule_6 or rule_7",
        ("test_rule_6_wrong_duration_is_refused[[]*",),
    ),
    Fault(
        "no minimum notice",
        on_dataset(set_all("minimumNoticeMinutes", 0)),
        "rule_7 or rule_6",
        ("test_rule_7_start_inside_minimum_notice_is_refused",),
    ),
    Fault(
        "no booking horizon",
        on_dataset(set_all("bookingHorizonDays", 3650)),
        "rule_7 or rule_6",
        ("test_rule_7_start_beyond_the_booking_horizon_is_refused",),
    ),
    Fault(
        "slots off the grid accepted",
        on_dataset(set_all("slotIntervalMinutes", 5)),
        "rule_8 and not dst",
        ("test_rule_8_slot_off_the_grid_is_unavailable",),
    ),
    Fault(
        "a slot can be booked twice",
        _store("double booking"),
        "rule_8_booked or rule_8_outside or rule_7",
        ("test_rule_8_booked_slot_is_unavailable",),
    ),
    Fault(
        "bookings block only their own event type",
        _store("same event type only"),
        "rule_8_booking_blocks or rule_8_booked or rule_8_adjacent",
        ("test_rule_8_booking_blocks_overlapping_slots_of_other_event_types",),
    ),
    Fault(
        "PendingApproval bookings do not block",
        _store("pending does not block"),
        "rule_8_pending or rule_8_booked or rule_10_approval",
        ("test_rule_8_pending_approval_blocks_the_slot",),
    ),
    Fault(
        "back-to-back slots treated as overlapping",
        _store("touching spans overlap"),
        "rule_8_adjacent or rule_8_booked or rule_8_booking_blocks",
        ("test_rule_8_adjacent_slots_do_not_overlap",),
    ),
    Fault(
        "only a booking with the same start blocks",
        _store("only the same start blocks"),
        "rule_8_partial or rule_8_booked",
        ("test_rule_8_partial_overlap_with_a_different_start_is_unavailable[[]*",),
    ),
    Fault(
        "only a booking containing the new start blocks",
        _store("only a booking containing the new start blocks"),
        "rule_8_partial or rule_8_booked",
        (
            "test_rule_8_partial_overlap_with_a_different_start_is_unavailable"
            "[[]containing its start[]]",
        ),
    ),
    Fault(
        "the last slot of the day refused",
        _layer(before=json_request(rewrite.last_slot_refused)),
        "rule_8_last or running_past or outside_the_weekly",
        ("test_rule_8_last_slot_of_the_day_is_available",),
    ),
    Fault(
        "a slot running past closing accepted",
        _layer(before=json_request(rewrite.past_closing_accepted)),
        "rule_8_last or running_past or outside_the_weekly",
        ("test_rule_8_slot_running_past_closing_is_unavailable",),
    ),
    Fault(
        "a booking horizon one day too long",
        on_dataset(set_all("bookingHorizonDays", 61)),
        "rule_7",
        ("test_rule_7_booking_horizon_is_exact",),
    ),
    Fault(
        "a minimum notice one slot too long",
        on_dataset(set_all("minimumNoticeMinutes", 61)),
        "rule_7",
        ("test_rule_7_minimum_notice_is_exact",),
    ),
    Fault(
        "custom fields answer before the overlap (rule 9 before 8)",
        _store("custom fields before the overlap"),
        "rule_9",
        ("test_rule_9_taken_slot_comes_before_custom_fields",),
    ),
    Fault(
        "a race across two event types of one host",
        # Long enough that a burst races on a loaded machine too: a rival cuts it short.
        _store("atomic per event type only", pause=2.0),
        "rule_10_concurrent or rule_8_booked",
        ("test_rule_10_concurrent_burst_across_event_types_yields_exactly_one_201",),
    ),
    Fault(
        "check-then-insert race",
        _store("not atomic", pause=2.0),
        "rule_10_concurrent or rule_8_booked",
        ("test_rule_10_concurrent_burst_for_one_slot_yields_exactly_one_201",),
    ),
    # CAPTCHA (rule 5), honeypot (rule 4), custom fields (rule 9).
    Fault(
        "CAPTCHA token not required",
        on_dataset(set_all("captcha", False)),
        "rule_5 or rule_4",
        (
            "test_rule_5_missing_captcha_token_is_refused[[]*",
            "test_rule_5_refused_captcha_token_is_rejected",
            "test_rule_5_captcha_comes_before_duration",
        ),
    ),
    Fault(
        "every CAPTCHA token accepted",
        _layer(
            before=json_request(
                lambda s, d: (
                    d.update(captchaToken="ok")
                    if str(d.get("captchaToken", "")).startswith("invalid")
                    else None
                )
            )
        ),
        "rule_5",
        ("test_rule_5_refused_captcha_token_is_rejected",),
    ),
    Fault(
        "honeypot ignored",
        _layer(before=json_request(lambda s, d: d.pop("honeypotValue", None) and None)),
        "rule_4 or rule_5",
        ("test_rule_4_filled_honeypot_is_refused_and_stores_nothing",),
    ),
    Fault(
        "honeypot refused but stored",
        lambda _: rewrite.honeypot_stored(reference()),
        "rule_4 or rule_5",
        ("test_rule_4_filled_honeypot_is_refused_and_stores_nothing",),
    ),
    Fault(
        "required custom field not enforced",
        on_dataset(nothing_required),
        "rule_9",
        ("test_rule_9_missing_required_custom_field_is_refused[[]*",),
    ),
    # 404s (rule 2).
    Fault(
        "body validated before the 404",
        _layer(before=rewrite.validation_first),
        "rule_2",
        ("test_rule_2_404_comes_before_validation[[]*",),
    ),
    Fault(
        "another host's event type accepted",
        _layer(before=rewrite.other_hosts_event),
        "rule_2",
        ("test_rule_2_event_type_of_another_host_is_404",),
    ),
    # Error format.
    Fault(
        "framework errors as HTML",
        _layer(after=rewrite.html_framework_errors, book_only=False),
        "error_format or rule_2",
        (
            "test_error_format_is_json_with_an_error_message[[]unknown route 404[]]",
            "test_error_format_is_json_with_an_error_message[[]wrong method 405[]]",
            "test_error_format_405_names_the_allowed_method",
        ),
    ),
    Fault(
        '400s say "message", not "error"',
        _layer(after=rewrite.renamed_error_key),
        "error_format",
        (
            "test_error_format_is_json_with_an_error_message[[]body not JSON 400[]]",
            "test_error_format_is_json_with_an_error_message[[]invalid field 400[]]",
            "test_error_format_details_name_the_field",
        ),
    ),
]
