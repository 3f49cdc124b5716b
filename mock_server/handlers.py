"""Connexion handlers: thin, they take what the spec already validated and call the domain."""

from __future__ import annotations

from typing import Any

from .booking import BookingService, booking_json


class BookingHandlers:
    """Operations of openapi/booking.yaml, by operationId in snake_case."""

    def __init__(self, service: BookingService) -> None:
        self.service = service

    async def book_slot(
        self, user_slug: str, event_slug: str, body: dict[str, Any]
    ) -> tuple[dict[str, Any], int]:
        host, event_type = self.service.find(user_slug, event_slug)
        booking = await self.service.book(host, event_type, body)
        return booking_json(booking), 201
