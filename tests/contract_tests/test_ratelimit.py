"""The RateLimit fields as structured fields, and the sliding log's arithmetic behind them."""

from __future__ import annotations

import pytest

from contract_tests.ratelimit import (
    FieldSyntaxError,
    Observed,
    frees_up_in,
    in_the_window,
    parse_http_date,
    parse_quota,
    parse_retry_after,
    parse_sf_list,
    retry_after_rounding,
    within_rounding,
)


def fields(policy: str, limit: str) -> dict[str, str]:
    return {"RateLimit-Policy": policy, "RateLimit": limit}


def test_the_drafts_fields_parse() -> None:
    quota = parse_quota(fields('"per-ip";q=15;w=60', '"per-ip";r=14;t=60'))
    assert (quota.policy, quota.limit, quota.window, quota.remaining, quota.reset) == (
        "per-ip",
        15,
        60,
        14,
        60,
    )


def test_several_policies_are_a_list() -> None:
    items = parse_sf_list('"burst";q=100;w=1, "per-ip";q=15;w=60;note="x";strict')
    assert [item.name for item in items] == ["burst", "per-ip"]
    assert items[1].params == {"q": 15, "w": 60, "note": "x", "strict": True}
    quota = parse_quota(fields('"per-ip";q=15;w=60', '"other";r=1;t=1, "per-ip";r=3;t=9'))
    assert (quota.remaining, quota.reset) == (3, 9)


@pytest.mark.parametrize(
    ("policy", "limit", "says"),
    [
        ("per-ip;q=15;w=60", '"per-ip";r=14;t=60', "token"),
        ('"per-ip";q=15', '"per-ip";r=14;t=60', "w="),
        ('"per-ip";q=15;w=60', '"per-ip";r=16;t=60', "exceeds"),
        ('"per-ip";q=15;w=60', '"per-ip";r=-1;t=60', "r="),
        ('"per-ip";q=15;w=60', '"per-ip";r=1.5;t=60', "structured-field"),
        ('"per-ip";q=15;w=60', '"global";r=1;t=60', "no item for the policy"),
        ('"per-ip" q=15 w=60', '"per-ip";r=1;t=60', "structured-field"),
    ],
)
def test_malformed_fields_are_refused_with_a_reason(policy: str, limit: str, says: str) -> None:
    with pytest.raises(FieldSyntaxError, match=says):
        parse_quota(fields(policy, limit))


def test_missing_fields_are_named() -> None:
    with pytest.raises(FieldSyntaxError, match="missing RateLimit-Policy"):
        parse_quota({"RateLimit": '"per-ip";r=1;t=1'})


@pytest.mark.parametrize(
    ("value", "expected"), [("42", 42), (" 7 ", 7), ("4.5", None), ("x", None)]
)
def test_retry_after_as_delay_seconds(value: str, expected: int | None) -> None:
    assert parse_retry_after({"Retry-After": value}) == expected
    assert retry_after_rounding({"Retry-After": value}) == 0
    assert parse_retry_after({}) is None


DATE = "Wed, 21 Oct 2015 07:28:00 GMT"


@pytest.mark.parametrize(
    "value",
    [
        "Wed, 21 Oct 2015 07:28:05 GMT",  # IMF-fixdate
        "Wednesday, 21-Oct-15 07:28:05 GMT",  # RFC 850
        "Wed Oct 21 07:28:05 2015",  # asctime
    ],
)
def test_retry_after_as_an_http_date_counts_from_the_responses_date(value: str) -> None:
    headers = {"Retry-After": value, "Date": DATE}
    assert parse_retry_after(headers) == 5
    # Both have whole seconds only: the delay may be a second off either way.
    assert retry_after_rounding(headers) == 1


def test_retry_after_as_an_http_date_without_a_date_counts_from_its_arrival() -> None:
    arrived = parse_http_date(DATE)
    assert arrived is not None
    headers = {"Retry-After": "Wed, 21 Oct 2015 07:28:03 GMT"}
    assert parse_retry_after(headers, received=arrived + 0.5) == 2.5
    assert parse_retry_after(headers, received=arrived + 9) == 0  # already past: retry now


def test_a_malformed_http_date_is_no_retry_after() -> None:
    assert parse_retry_after({"Retry-After": "Wed, 32 Oct 2015 07:28:03 GMT"}) is None
    assert parse_retry_after({"Retry-After": "tomorrow"}) is None


def _log(*requests: tuple[float, float, bool]) -> list[Observed]:
    return [Observed(sent, received, counted) for sent, received, counted in requests]


def test_a_fresh_clients_first_request_frees_up_a_whole_window_later() -> None:
    assert frees_up_in(_log((0, 0.01, True)), 0, 4) == (4, 4)


def test_the_oldest_request_in_the_window_is_the_one_that_frees_up() -> None:
    history = _log((0, 0.01, True), (2.0, 2.02, True), (2.1, 2.12, True))
    low, high = frees_up_in(history, 2, 4)
    # The first arrived between 0 and 0.01, the third was handled between 2.1 and 2.12.
    assert low == pytest.approx(4 - 2.12)
    assert high == pytest.approx(4.01 - 2.1)


def test_a_refused_request_neither_counts_nor_frees_anything_up() -> None:
    history = _log((0, 0.01, False), (1.0, 1.01, True), (1.1, 1.11, False))
    low, high = frees_up_in(history, 2, 4)
    assert low == pytest.approx(4 + 1.0 - 1.11)
    assert high == pytest.approx(4 + 1.01 - 1.1)


def test_requests_that_left_the_window_are_out_of_it() -> None:
    history = _log((0, 0.01, True), (5, 5.01, False))
    assert frees_up_in(history, 1, 4) == (0, 0)
    # One that may or may not have left: t may be anything from 0 to that one's end.
    edge = _log((0, 0.3, True), (4.1, 4.2, False))
    low, high = frees_up_in(edge, 1, 4)
    assert low == 0 and high == pytest.approx(0.2)


def test_stated_seconds_may_be_rounded_either_way() -> None:
    assert within_rounding(2, 1.98, 2.0)
    assert within_rounding(1, 1.98, 2.0)  # truncated
    assert within_rounding(3, 1.98, 2.02)  # rounded up, past the round trip
    assert not within_rounding(4, 1.98, 2.02)
    assert within_rounding(4, 1.98, 2.02, rounding=1)


def test_requests_in_the_window_at_least_and_at_most() -> None:
    history = _log((0, 0.5, True), (1, 1.01, False), (2, 2.01, True), (4.2, 4.3, True))
    # The first arrived between 0 and 0.5: at 4.2..4.3 it may or may not have left.
    assert in_the_window(history, 3, 4) == (1, 2)
    assert in_the_window(history, 2, 4) == (1, 1)  # the 429 in between does not count
    assert in_the_window(history, 0, 4) == (0, 0)


def test_requests_in_flight_together_may_have_arrived_in_either_order() -> None:
    # A burst over two connections: the second was sent first but may have arrived last.
    history = _log((0, 0.01, True), (1.0, 1.5, True), (1.1, 1.2, True))
    assert in_the_window(history, 2, 4) == (1, 2)
    assert in_the_window(history, 1, 4) == (1, 2)
    low, high = frees_up_in(history, 2, 4)
    assert low == pytest.approx(4 - 1.2) and high == pytest.approx(4.01 - 1.1)
