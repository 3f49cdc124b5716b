"""The booking rules of the reference implementation, in the order PRODUCT.md gives them.

Rule 1 (rate limit) and rule 3 (the request's shape, against the spec) belong to the
HTTP layer (``mock_server.http.book``), which hands over a typed ``BookingRequest``;
``BookingService.find`` is rule 2 and ``BookingService.book`` runs rules 4 to 10.
Nothing here knows HTTP: the rules read dataclasses and raise ``mock_server.errors``.
"""

from __future__ import annotations

import bisect
import itertools
import random
import string
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Protocol

from ..errors import (
    CaptchaRejected,
    CaptchaRequired,
    EventTypeNotFound,
    FieldError,
    HoneypotFilled,
    InvalidDuration,
    InvalidRequest,
    MissingCustomField,
    OutsideBookingWindow,
    SlotUnavailable,
    UserNotFound,
)
from . import slots
from .clock import Clock
from .dataset import Dataset, EventType, Host
from .store import Booking, BookingStore, DuplicateBookingId, Invitee

CUSTOM_FIELD_KEY_MAX = 100


class CaptchaVerifier(Protocol):
    async def __call__(self, token: str) -> bool: ...


async def default_captcha_verifier(token: str) -> bool:
    """The mock's verifier: refuses tokens beginning with ``invalid``, accepts the rest.

    So Cloudflare Turnstile's development token ``XXXX.DUMMY.TOKEN.XXXX`` passes.
    """
    return not token.startswith("invalid")


_ALNUM = string.ascii_letters + string.digits
_ALPHABETS = (_ALNUM, string.ascii_lowercase, string.digits)


def _alphabet_table(alphabet: str) -> tuple[bytes, bytes]:
    """A bytes.translate table and the bytes it deletes, so that random bytes become the
    alphabet's characters uniformly: each character takes as many byte values as any
    other, and the few byte values beyond the last whole round are dropped."""
    size = len(alphabet)
    whole = 256 - 256 % size
    table = bytes(ord(alphabet[value % size]) for value in range(256))
    return table, bytes(range(whole, 256))


class IdFactory:
    """Booking ids and meeting links; repeatable with a seed."""

    def __init__(self, seed: int | None = None) -> None:
        # Not SystemRandom: a syscall per character is measurable on the request path, and
        # ids need to be unique, not secret.
        self._random = random.Random(seed)
        # Characters are drawn POOL at a time, per alphabet: random bytes translated, as
        # one call; one draw per character was a measurable share of a booking's time.
        self._pools: dict[str, tuple[str, int]] = {}  # alphabet -> (pool, next unused)
        self._tables = {alphabet: _alphabet_table(alphabet) for alphabet in _ALPHABETS}

    POOL = 4096

    def _draw(self, alphabet: str, count: int) -> str:
        pool, at = self._pools.get(alphabet, ("", 0))
        while len(pool) - at < count:
            table, dropped = self._tables[alphabet]
            fresh = self._random.randbytes(self.POOL).translate(table, dropped)
            pool, at = pool[at:] + fresh.decode("ascii"), 0
        self._pools[alphabet] = (pool, at + count)
        return pool[at : at + count]

    def booking_id(self) -> str:
        return "bkg_" + self._draw(_ALNUM, 14)

    def diverge(self) -> None:
        """Leave the seeded stream for one seeded by the system.

        A drawn id that the store already holds means another process drew from the
        same stream: a booking-mock restarted with the same ``--seed`` on the same Redis,
        or a second instance. Every next id of the stream is one it drew too, so staying
        on it would collide again on every booking.
        """
        self._random = random.Random()
        self._pools.clear()

    def meeting_link(self, kind: str) -> str:
        if kind == "GoogleMeet":
            letters = self._draw(string.ascii_lowercase, 10)
            return f"https://meet.google.com/{letters[:3]}-{letters[3:7]}-{letters[7:]}"
        return "https://zoom.us/j/" + self._draw(string.digits, 11)


# Not frozen: a frozen dataclass sets each field through object.__setattr__, four times
# slower, and one is built for every request. Nothing changes one once built.
@dataclass(slots=True)
class BookingRequest:
    """What an invitee asks for, as rules 4 to 10 read it; times are aware, in UTC."""

    start: datetime
    end: datetime
    invitee: Invitee
    custom_fields: dict[str, str] = field(default_factory=dict)
    notes: str | None = None
    source: str | None = None
    honeypot: str = ""
    captcha_token: str | None = None


class BookingService:
    def __init__(
        self,
        dataset: Dataset,
        store: BookingStore,
        clock: Clock,
        *,
        captcha: CaptchaVerifier = default_captcha_verifier,
        ids: IdFactory | None = None,
    ) -> None:
        self.dataset = dataset
        self.store = store
        self.clock = clock
        self.captcha = captcha
        self.ids = ids or IdFactory()

    def find(self, user_slug: str, event_slug: str) -> tuple[Host, EventType]:
        """Rule 2: the host, then the event type among the host's."""
        host = self.dataset.host(user_slug)
        if host is None:
            raise UserNotFound()
        event_type = host.event_types.get(event_slug)
        if event_type is None:
            raise EventTypeNotFound()
        return host, event_type

    async def book(self, host: Host, event_type: EventType, request: BookingRequest) -> Booking:
        """Rules 3 (what the spec cannot say) to 10, in order; the first that fails answers."""
        check_custom_field_keys(request)
        check_honeypot(request)
        await self.check_captcha(event_type, request)
        start, end = request.start, request.end
        check_duration(event_type, start, end)
        now = self.clock.now()
        check_time_bounds(event_type, start, now)
        check_availability(host, event_type, start, end)
        try:
            custom_fields = check_custom_fields(event_type, request)
        except MissingCustomField:
            # Rule 8 answers before rule 9, the overlap with stored bookings included. A
            # request that fails rule 9 stores nothing, so a read is enough here: booking
            # itself stays one atomic add_if_free below.
            busy_start, busy_end = slots.occupied(event_type, start, end)
            if await self.store.is_busy(host.slug, busy_start, busy_end):
                raise SlotUnavailable() from None
            raise
        for _attempt in range(5):
            booking = self._new_booking(host, event_type, request, now, custom_fields)
            try:
                if not await self.store.add_if_free(booking):
                    raise SlotUnavailable()
                return booking
            except DuplicateBookingId:
                self.ids.diverge()  # another process drew this id (the same --seed)
        raise DuplicateBookingId(booking.id)

    async def free_slots(
        self, host: Host, event_type: EventType, first: date, last: date, zone: tzinfo
    ) -> list[tuple[datetime, datetime]]:
        """Slots that would book now: rules 7 and 8, the same functions a booking runs."""
        now = self.clock.now()
        # Host-local days around the range, since the range is in another zone.
        candidates = slots.grid_slots(
            host,
            event_type,
            first if first == date.min else first - timedelta(days=1),
            slots.next_day(last) or last,
        )
        wanted = []
        for start, end in candidates:
            try:
                local_day = start.astimezone(zone).date()
            except OverflowError:
                continue
            if first <= local_day <= last and slots.within_bounds(event_type, start, now):
                wanted.append((start, end, *slots.occupied(event_type, start, end)))
        if not wanted:
            return []
        # Only the host's spans around the range, not every booking the store holds.
        spans = await self.store.busy_spans(
            host.slug, min(w[2] for w in wanted), max(w[3] for w in wanted)
        )
        starts = [span[0] for span in spans]
        latest_end = list(itertools.accumulate((span[1] for span in spans), max))
        free = []
        for start, end, busy_start, busy_end in wanted:
            # A span overlaps [busy_start, busy_end) if it starts before busy_end and ends
            # after busy_start: the latest end among those starting before busy_end tells.
            before = bisect.bisect_left(starts, busy_end)
            if not before or latest_end[before - 1] <= busy_start:
                free.append((start, end))
        return free

    async def replace_dataset(self, dataset: Dataset) -> int:
        """Serve a new dataset; bookings whose event type is gone are dropped (their count)."""
        kept_ids = {e.id for host in dataset.hosts.values() for e in host.event_types.values()}
        dropped = 0
        for booking in await self.store.list():
            if booking.event_type_id not in kept_ids:
                await self.store.delete(booking.id)
                dropped += 1
        self.dataset = dataset
        return dropped

    async def check_captcha(self, event_type: EventType, request: BookingRequest) -> None:
        """Rule 5."""
        if not event_type.captcha:
            return
        token = request.captcha_token or ""
        if not token.strip():
            raise CaptchaRequired(details=[FieldError("captchaToken", "This field is required.")])
        if not await self.captcha(token):
            raise CaptchaRejected()

    def _new_booking(
        self,
        host: Host,
        event_type: EventType,
        request: BookingRequest,
        now: datetime,
        custom_fields: dict[str, str],
    ) -> Booking:
        """Rule 10: the booking as it will be stored and returned."""
        start, end = request.start, request.end
        busy_start, busy_end = slots.occupied(event_type, start, end)
        kind = event_type.location.type
        if kind in ("GoogleMeet", "Zoom"):
            location = self.ids.meeting_link(kind)
        elif kind == "Phone":
            location = host.phone or ""
        else:
            location = event_type.location.address or ""
        return Booking(
            id=self.ids.booking_id(),
            host_slug=host.slug,
            event_slug=event_type.slug,
            event_type_id=event_type.id,
            status="PendingApproval" if event_type.requires_approval else "Confirmed",
            start=start,
            end=end,
            busy_start=busy_start,
            busy_end=busy_end,
            invitee=request.invitee,
            location_type=kind,
            location_value=location,
            # Not now.replace(microsecond=0): its keyword costs twice the subtraction.
            created_at=now - timedelta(0, 0, now.microsecond) if now.microsecond else now,
            custom_fields=custom_fields,
            notes=request.notes,
            source=request.source,
        )


def check_custom_field_keys(request: BookingRequest) -> None:
    """Rule 3's one limit OpenAPI 3.0 cannot state: custom field keys of at most 100 characters."""
    long_keys = [k for k in request.custom_fields if len(k) > CUSTOM_FIELD_KEY_MAX]
    if long_keys:
        raise InvalidRequest(
            details=[
                FieldError("customFields", f"The key {k[:20]!r}... is longer than 100 characters.")
                for k in long_keys
            ]
        )


def check_honeypot(request: BookingRequest) -> None:
    """Rule 4."""
    if request.honeypot:
        raise HoneypotFilled()


def check_duration(event_type: EventType, start: datetime, end: datetime) -> None:
    """Rule 6."""
    if end <= start:
        raise InvalidDuration(
            "endTime must be after startTime.",
            details=[FieldError("endTime", "endTime must be after startTime.")],
        )
    if end - start != slots.duration(event_type):
        minutes = event_type.duration_minutes
        raise InvalidDuration(
            f"The slot must last exactly {minutes} minutes.",
            details=[FieldError("endTime", f"endTime must be startTime + {minutes} minutes.")],
        )


def check_time_bounds(event_type: EventType, start: datetime, now: datetime) -> None:
    """Rule 7: no sooner than the minimum notice, no further than the booking horizon."""
    if slots.within_bounds(event_type, start, now):
        return
    if start < slots.earliest_start(event_type, now):
        message = (
            f"The slot must start at least {event_type.minimum_notice_minutes} minutes from now."
        )
    else:
        message = f"The slot must start within {event_type.booking_horizon_days} days from now."
    raise OutsideBookingWindow(message, details=[FieldError("startTime", message)])


def check_availability(host: Host, event_type: EventType, start: datetime, end: datetime) -> None:
    """Rule 8, the part that needs no storage: the slot grid and the weekly availability."""
    if not slots.is_on_grid_and_available(host, event_type, start, end):
        raise SlotUnavailable()


def check_custom_fields(event_type: EventType, request: BookingRequest) -> dict[str, str]:
    """Rule 9: required answers present and non-empty; undefined keys dropped."""
    answers = request.custom_fields
    missing = [
        f.key for f in event_type.custom_fields if f.required and not answers.get(f.key, "").strip()
    ]
    if missing:
        raise MissingCustomField(
            f"The custom field {missing[0]!r} is required.",
            details=[
                FieldError(f"customFields.{key}", "This field is required.") for key in missing
            ],
        )
    defined = {f.key for f in event_type.custom_fields}
    return {k: v for k, v in answers.items() if k in defined}
