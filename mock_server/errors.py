"""Every error a request can meet, in one hierarchy that imports no web framework.

The domain raises the rule errors, the HTTP layer the transport ones; each carries the
status and the message the client sees, and ``mock_server.http.responses`` is the one
place that turns any of them, or any framework exception, into an HTTP response::

    BookingError                       400 unless a subclass says otherwise
    ├── RateLimited                    429  rule 1
    ├── NotFound                       404  rule 2, and routes that do not exist
    │   ├── UserNotFound
    │   └── EventTypeNotFound
    ├── InvalidRequest                      rule 3: the request's shape
    ├── PayloadTooLarge                413  rule 3: the body's size
    ├── UnsupportedMediaType           415  rule 3: the media type
    ├── HoneypotFilled                      rule 4
    ├── CaptchaRequired                     rule 5
    ├── CaptchaRejected                     rule 5
    ├── InvalidDuration                     rule 6
    ├── OutsideBookingWindow                rule 7
    ├── SlotUnavailable                     rule 8
    ├── MissingCustomField                  rule 9
    ├── StorageUnavailable             503  bookings or rate limits unreachable
    ├── PreferError                         a Prefer header asking for the undocumented
    ├── MethodNotAllowed               405
    ├── Unauthorized                   401  the control API's token
    ├── Forbidden                      403  the control API's Host and Origin checks
    ├── HeadersTooLarge                431  the mock's header limit
    └── InternalError                  500  anything unexpected, without internals
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SLOT_UNAVAILABLE = "The selected time slot is no longer available."


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class BookingError(Exception):
    """A request the server refuses; ``status`` and ``message`` are what the client sees."""

    status = 400
    message = "The request was refused."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.details = details or []
        self.headers = headers or {}
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message}
        if self.details:
            body["details"] = [{"field": d.field, "message": d.message} for d in self.details]
        return body


# Rule 1
class RateLimited(BookingError):
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Rate limit exceeded. Retry in {retry_after} seconds.")
        self.retry_after = retry_after


# Rule 2, and routes that do not exist
class NotFound(BookingError):
    status = 404
    message = "Not found."


class UserNotFound(NotFound):
    message = "User not found."


class EventTypeNotFound(NotFound):
    message = "Event type not found."


class MethodNotAllowed(BookingError):
    status = 405
    message = "Method not allowed."


# Rule 3
class InvalidRequest(BookingError):
    message = "The request body is invalid."


class PayloadTooLarge(BookingError):
    status = 413


class UnsupportedMediaType(BookingError):
    status = 415
    message = "The request body must be application/json."


# Rule 4: deliberately as vague as a shape error, so bots learn nothing.
class HoneypotFilled(BookingError):
    message = "The booking request could not be accepted."


# Rule 5
class CaptchaRequired(BookingError):
    message = "A CAPTCHA token is required for this event type."


class CaptchaRejected(BookingError):
    message = "The CAPTCHA token was rejected."


# Rule 6
class InvalidDuration(BookingError):
    pass


# Rule 7
class OutsideBookingWindow(BookingError):
    pass


# Rule 8
class SlotUnavailable(BookingError):
    message = SLOT_UNAVAILABLE


# Rule 9
class MissingCustomField(BookingError):
    pass


class StorageUnavailable(BookingError):
    status = 503
    message = "The booking storage is unavailable. Try again shortly."


STORAGE_DEADLINE = 2.0
"""Seconds one operation on shared storage (Redis) may take, from taking a connection to
the last reply; beyond it the request is a 503, so a Redis that hangs is not a hang."""


class InternalError(BookingError):
    status = 500
    message = "Internal server error."


class PreferError(BookingError):
    """A Prefer header asking for something the operation does not document."""


class Unauthorized(BookingError):
    status = 401
    message = "The control API needs Authorization: Bearer <token> (see --admin-token)."


class Forbidden(BookingError):
    status = 403


class HeadersTooLarge(BookingError):
    status = 431
