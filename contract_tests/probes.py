"""Rate-limit probes: the request sequences rule 1's tests judge.

Each probe is a client whose window is empty, sending a planned sequence: its
quota of every outcome and one more (``exhaust``), a retry after Retry-After
(``retry_after``), a hammering during a lockout (``lockout``), a burst straddling
a multiple of the window (``boundary``). What it saw is a record of
``probe_results``; ``probe_runner`` runs each probe once per run.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .bodies import booking_body
from .clients import Client, trusts_peer
from .probe_results import (
    BURST_TRIES,
    BoundaryProbe,
    Exhaustion,
    LockoutProbe,
    RetryAfterProbe,
    Spoof,
    burst_rolled,
    observed,
    retry_wait,
)
from .ratelimit import FieldSyntaxError, in_the_window, parse_quota
from .slots import in_the_past
from .target import Exchange, Target

# Connections a burst of one client's requests goes over at once: enough that a quota
# goes out in a round trip or two, whatever the target's latency.
BURST_CONNECTIONS = 16


Send = Callable[[Client], Exchange]


def _outcomes(target: Target) -> list[tuple[str, Send]]:
    """Requests with every kind of outcome but a booking; none of them can book anything."""
    profile = target.profile
    event_type = profile.event_types()[0]
    host = profile.host_of(event_type)
    past = in_the_past(host, event_type)

    def refused_slot(client: Client) -> Exchange:
        body = booking_body(profile, event_type, past)
        return target.post_booking(event_type, body, client=client, retry_429=False)

    def unknown_user(client: Client) -> Exchange:
        body = booking_body(profile, event_type, past)
        return target.post_booking(
            event_type, body, host_slug="no-such-user-contract", client=client, retry_429=False
        )

    def raw(content: bytes, media_type: str) -> Send:
        def send(client: Client) -> Exchange:
            return target.post_booking(
                event_type,
                content=content,
                headers={"Content-Type": media_type},
                client=client,
                retry_429=False,
            )

        return send

    return [
        ("a refused booking (400)", refused_slot),
        ("an unknown user (404)", unknown_user),
        ("a body that is not JSON (400)", raw(b"{not json", "application/json")),
        ("a body that is not application/json (415)", raw(b"startTime=tomorrow", "text/plain")),
    ]


def _spoofing(target: Target, client: Client, header: str) -> Exchange:
    """A refused slot from client with a made-up X-Forwarded-For of its own."""
    profile = target.profile
    event_type = profile.event_types()[0]
    body = booking_body(profile, event_type, in_the_past(profile.host_of(event_type), event_type))
    return target.post_booking(
        event_type, body, headers={"X-Forwarded-For": header}, client=client, retry_429=False
    )


def _burst(target: Target, send: Send, client: Client, count: int) -> list[Exchange]:
    """count requests as client, a few at a time, in the order they were sent.

    A loaded machine answers one request after another too slowly to fit a quota into
    a short window; a few connections at once still do.
    """

    def one(_: int) -> Exchange:
        with target.unreported():
            return send(client)

    if count <= 0:
        return []
    with ThreadPoolExecutor(max_workers=min(BURST_CONNECTIONS, count)) as pool:
        exchanges = list(pool.map(one, range(count)))
    return sorted(exchanges, key=lambda e: e.received_at - e.elapsed)


def _made_up_address() -> str:
    """An address from TEST-NET-3 (RFC 5737), new each time: no client of the target has it."""
    return f"203.0.113.{random.randrange(1, 255)}"


def _remaining(exchange: Exchange) -> int | None:
    try:
        return parse_quota(exchange.headers).remaining
    except FieldSyntaxError:
        return None


def _fresh_start(target: Target, first: Send) -> tuple[Client, Exchange]:
    """A client whose first request leaves limit-1: no request of it is in the window."""
    limit = target.profile.rate_limit.limit
    for _ in range(3):
        client = target.pool.fresh()
        exchange = first(client)
        remaining = _remaining(exchange)
        if exchange.status != 429 and (remaining is None or remaining >= limit - 1):
            return client, exchange
        # Someone else's requests (an earlier run's) are still in the window: let them age out.
        target.pool.wait_until_quiet(client)
        target.pool.pause(
            target.profile.rate_limit.window, client, "others' requests in its window to age out"
        )
    return client, exchange


def _book(target: Target) -> tuple[Exchange | None, str | None]:
    """Book a free slot (inside as_client): one of the latest, which no other test books first."""
    profile = target.profile
    event_type = profile.event_types()[0]
    host = profile.host_of(event_type)
    slots = itertools.islice(target.ledger.free_slots(host, event_type, latest_first=True), 4)
    try:
        _, exchange = target.book_free_slot(
            event_type, lambda slot: booking_body(profile, event_type, slot), slots=slots
        )
    except Exception as exc:  # the booking rules' tests judge why; here it is only missing
        return None, f"booking a free slot of {event_type.label} failed: {exc}"
    if exchange.status != 201:
        return None, f"booking a free slot of {event_type.label} got {exchange.status}"
    return exchange, None


def _label(exchange: Exchange) -> str:
    if exchange.status == 201:
        return "a booking (201)"
    if exchange.is_slot_taken:
        return "a slot found taken (400)"
    return f"a booking attempt ({exchange.status})"


def exhaust(target: Target) -> Exhaustion:
    window = target.profile.rate_limit.window
    for _ in range(BURST_TRIES):
        result = _exhaust_once(target)
        assert result.refused is not None
        if not burst_rolled(result.accepted[0][1], result.refused, window):
            break
    client = result.client_used
    _other_client(target, _outcomes(target)[0][1], result)
    if client.forwarded_for is not None:
        _untrusted_peer(target, result)
    return result


def _exhaust_once(target: Target) -> Exhaustion:
    limit = target.profile.rate_limit.limit
    outcomes = _outcomes(target)
    result = Exhaustion()
    label, send = outcomes[0]
    client, first = _fresh_start(target, send)
    result.client = client.name
    result.accepted.append((label, first))
    with target.as_client(client) as history:
        if limit >= 2:
            # Second of the quota, so a window the booking cleared shows in every request after.
            result.booking, result.booking_problem = _book(target)
            result.accepted += [(_label(e), e) for e in history]
        fillers = itertools.cycle(outcomes[1:] + outcomes[:1])
        while len(result.accepted) < limit:
            label, send = next(fillers)
            result.accepted.append((label, send(client)))
        result.refused = outcomes[0][1](client)
        result.during_lockout["unknown user with a body that is not JSON"] = target.post_booking(
            target.profile.event_types()[0],
            content=b"{not json",
            headers={"Content-Type": "application/json"},
            host_slug="no-such-user-contract",
            client=client,
            retry_429=False,
        )
        _spoof_as_the_client(target, client, result)
    result.history = [first, *history]
    result.client_used = client
    return result


def _spoof_as_the_client(target: Target, client: Client, result: Exhaustion) -> None:
    """Over the limit, the client names someone else in X-Forwarded-For."""
    rate_limit = target.profile.rate_limit
    assert result.refused is not None
    if client.forwarded_for is None:
        if trusts_peer(rate_limit, client.source_address):
            result.unchecked["spoof"] = (
                f"the profile says the target trusts X-Forwarded-For from {client.name}"
            )
            return
        header = _made_up_address()
        spoofed = _spoofing(target, client, header)
        result.spoof = Spoof(client.name, header, result.refused, spoofed)
        return
    # Behind a trusted proxy (this machine), a hop the client forged ahead of its own.
    if rate_limit.trusted_proxies is not None and "*" in rate_limit.trusted_proxies:
        result.unchecked["forged hop"] = (
            "the profile says the target trusts every peer as a proxy ('*'): every hop is then"
            " a proxy, and which one is the client is the target's choice"
        )
        return
    if trusts_peer(rate_limit, client.forwarded_for):
        result.unchecked["forged hop"] = (
            f"the profile lists {client.forwarded_for}, the suite's simulated client, as a"
            f" trusted proxy"
        )
        return
    forging = target.pool.forging(client, _made_up_address())
    assert forging.forwarded_for is not None
    forged = _outcomes(target)[0][1](forging)
    result.forged_hop = Spoof(client.name, forging.forwarded_for, result.refused, forged)


def _other_client(target: Target, send: Send, result: Exhaustion) -> None:
    if not target.pool.simulate:
        result.unchecked["another client"] = (
            "the suite can be only one client: the target does not trust X-Forwarded-For"
            " from this machine, and is not on loopback or was told not to be sent from"
            " other source addresses (trustsForwardedFor, or a loopback target with"
            " sourceAddresses, lets it be many)"
        )
        return
    result.other_client = send(target.pool.fresh())


def _untrusted_peer(target: Target, result: Exhaustion) -> None:
    """From a loopback address the target must not trust: the limit, then a spoofed header."""
    peer = target.pool.untrusted_peer()
    if peer is None:
        proxies = target.profile.rate_limit.trusted_proxies or ()
        result.unchecked["spoof"] = (
            "the target trusts X-Forwarded-For from this machine and is not on loopback:"
            " the suite has no address it does not trust to send from"
            if not target.pool.sources
            else "the profile says the target trusts every peer as a proxy ('*')"
            if "*" in proxies
            else "the profile lists every loopback address as a trusted proxy"
        )
        return
    send = _outcomes(target)[0][1]
    with target.as_client(peer) as history:
        for _ in range(target.profile.rate_limit.limit):
            send(peer)
        locked_out = send(peer)
        header = _made_up_address()
        spoofed = _spoofing(target, peer, header)
    result.spoof = Spoof(peer.name, header, locked_out, spoofed, history)


def _pause(window: int) -> float:
    """How long to wait after the first request so Retry-After must be shorter than a window.

    A quarter window, rounded up: with a 10 s window, 2 s left a quick burst's honest
    HTTP-date Retry-After (whole seconds, plus a second of rounding) a whole window long,
    too close to tell from a needlessly long one."""
    return float(max(2, -(-window // 4))) if window >= 4 else 0.0


def retry_after(target: Target) -> RetryAfterProbe:
    window = target.profile.rate_limit.window
    pause = _pause(window)
    for _ in range(BURST_TRIES):
        probe = _retry_after_once(target, pause)
        if not burst_rolled(probe.first, probe.refused, window):
            break
    return probe


def _retry_after_once(target: Target, pause: float) -> RetryAfterProbe:
    window = target.profile.rate_limit.window
    limit = target.profile.rate_limit.limit
    send = _outcomes(target)[0][1]
    client, first = _fresh_start(target, send)
    with target.as_client(client) as history:
        target.pool.pause(pause, client, "a quarter window, to send the rest of its quota late")
        started = time.monotonic()
        rest = _burst(target, send, client, limit - 1)
        refused = send(client)
        pause = started - first.received_at
        probe = RetryAfterProbe(first=first, pause=pause, refused=refused)
        if refused.status == 429:
            # Retry-After counts from the moment the response was sent; the slack covers the trip.
            due = refused.received_at + retry_wait(refused, window)
            target.pool.pause(due - time.monotonic(), client, "its 429's Retry-After, to retry")
            probe.waited = time.monotonic() - refused.received_at
            probe.retry = send(client)
    probe.history = [first, *rest, *history]
    return probe


def lockout(target: Target) -> LockoutProbe:
    window = target.profile.rate_limit.window
    for _ in range(BURST_TRIES):
        probe = _lockout_once(target)
        if not burst_rolled(probe.history[0], probe.refused, window):
            break
    return probe


def _lockout_once(target: Target) -> LockoutProbe:
    window = target.profile.rate_limit.window
    limit = target.profile.rate_limit.limit
    send = _outcomes(target)[0][1]
    client, first = _fresh_start(target, send)
    with target.as_client(client) as history:
        for _ in range(limit - 1):
            send(client)
        refused = send(client)
        probe = LockoutProbe(refused=refused, refused_at=refused.received_at)
        hammered: list[Exchange] = []
        if refused.status == 429:
            wait = retry_wait(refused, window)
            # Half-way through the lockout, a whole quota of refused requests: if they counted,
            # they would still fill the window when the original lockout ends.
            half = refused.received_at + wait / 2 - time.monotonic()
            target.pool.pause(half, client, "half its lockout, to hammer it")
            hammered = _burst(target, send, client, limit)
            probe.hammered = [(exchange.received_at, exchange) for exchange in hammered]
            rest = refused.received_at + wait - time.monotonic()
            target.pool.pause(rest, client, "the end of its lockout, to retry")
            probe.retry = send(client)
    # The hammering went over other connections: it sits between the 429 and the retry.
    before = history[: len(history) - (probe.retry is not None)]
    probe.history = [first, *before, *hammered, *([probe.retry] if probe.retry else [])]
    return probe


def _wall(monotonic: float) -> float:
    return time.time() - (time.monotonic() - monotonic)


def boundary(target: Target) -> BoundaryProbe:
    """Straddle a multiple of the window: the quota just before it, one request just after.

    In a rolling window the request after the multiple still sees the whole burst,
    so it is refused; fixed windows on the clock start afresh at the multiple.
    """
    window = target.profile.rate_limit.window
    limit = target.profile.rate_limit.limit
    send = _outcomes(target)[0][1]
    # The gap either side of the multiple: room for the target's clock to differ from ours.
    margin = min(0.5, window / 8)
    span = max(1.0, window / 4)  # how long before the multiple the burst may start
    probe = BoundaryProbe(boundary=0.0)
    for _ in range(3):
        client = target.pool.fresh()
        now = time.time()
        start_by = min(span, window - 3 * margin)
        multiple = (math.floor(now / window) + 1) * window
        if multiple - start_by < now:
            multiple += window
        target.pool.pause(
            multiple - start_by - time.time(), client, "a multiple of the window, to straddle it"
        )
        probe = BoundaryProbe(boundary=multiple)
        probe.before = _burst(target, send, client, limit)
        time.sleep(max(0.0, multiple + margin - time.time()))
        probe.after = send(client)
        first, last = probe.before[0], max(probe.before, key=lambda e: e.received_at)
        probe.first_sent = _wall(first.received_at - first.elapsed)
        probe.last_received = _wall(last.received_at)
        probe.after_sent = _wall(probe.after.received_at - probe.after.elapsed)
        probe.after_received = _wall(probe.after.received_at)
        if probe.last_received >= multiple:
            probe.problem = (
                f"the {limit} requests took {probe.last_received - probe.first_sent:.1f} s and"
                f" ran past the multiple"
            )
            span = min(2 * span, window - 3 * margin)
            continue
        least, _ = in_the_window(observed(probe.exchanges), limit, window)
        if least < limit:
            probe.problem = "the burst may have left the window by the request after the multiple"
            continue
        probe.problem = None
        return probe
    return probe
