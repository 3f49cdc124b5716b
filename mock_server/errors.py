"""Every error the server can answer, and the one place where errors become HTTP responses.

The domain raises a ``BookingError`` subclass per rule; framework errors
(Connexion problems, Starlette HTTP exceptions, anything unexpected) are mapped
to the same ``{"error": ...}`` body here, so no error ever leaves as
``application/problem+json``, HTML or a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from connexion.exceptions import ProblemException, UnsupportedMediaTypeProblem
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

logger = logging.getLogger("mock_server")

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


class InternalError(BookingError):
    status = 500
    message = "Internal server error."


def to_booking_error(exc: BaseException) -> BookingError:
    """Map any exception to the BookingError the client sees."""
    if isinstance(exc, BookingError):
        return exc
    if isinstance(exc, UnsupportedMediaTypeProblem):
        return UnsupportedMediaType()
    if isinstance(exc, ProblemException):
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail else exc.title
        error = BookingError(detail or HTTPStatus(exc.status).phrase)
        error.status = exc.status
        return error
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return NotFound(f"No route for this path. {_route_hint()}")
        if exc.status_code == 405:
            return MethodNotAllowed(headers=dict(exc.headers or {}))
        error = BookingError(HTTPStatus(exc.status_code).phrase + ".")
        error.status = exc.status_code
        return error
    logger.error("unexpected error", exc_info=exc)
    return InternalError()


def _route_hint() -> str:
    return "The booking endpoint is POST /api/public/scheduling/{userSlug}/{eventSlug}/book."


def render(error: BookingError) -> tuple[int, bytes, dict[str, str]]:
    """Status, JSON body and headers for an error."""
    return error.status, json.dumps(error.body()).encode(), dict(error.headers)


# Connexion and Starlette register their own handlers for these; ours replace them.
HANDLED: tuple[type[Exception], ...] = (BookingError, ProblemException, HTTPException, Exception)


async def connexion_handler(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Connexion error handler: every exception Connexion catches ends here.

    Async, so Connexion runs it on the event loop rather than in a thread pool.
    """
    status, body, headers = render(to_booking_error(exc))
    return ConnexionResponse(
        status_code=status, body=body, headers=headers, mimetype="application/json"
    )


def connexion_handler_with_allow(
    allowed_methods: Callable[[str], str | None],
) -> Callable[[ConnexionRequest, Exception], Awaitable[ConnexionResponse]]:
    """The handler, with a 405's Allow naming every method of the path, not just one route's.

    Starlette answers 405 from the first route matching the path, and Connexion makes
    one route per operation, so its Allow would name only that operation's method.
    """

    async def handler(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        response = await connexion_handler(request, exc)
        if response.status_code == 405:
            allow = allowed_methods(request.url.path)
            if allow:
                response.headers["Allow"] = allow
        return response

    return handler
