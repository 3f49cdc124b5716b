"""The booking rules without HTTP: dataset, clock, slots, stores and the booking service.

Nothing in this package imports Connexion, Starlette or jsonschema (a test checks it
in a fresh interpreter): the rules can be read, and unit-tested, as plain Python.
"""

from .booking import BookingRequest, BookingService, CaptchaVerifier, IdFactory
from .clock import Clock
from .dataset import CustomField, Dataset, EventType, Host, Location, Window
from .store import Booking, BookingStore, DuplicateBookingId, Invitee, MemoryBookingStore

__all__ = [
    "Booking",
    "BookingRequest",
    "BookingService",
    "BookingStore",
    "CaptchaVerifier",
    "Clock",
    "CustomField",
    "Dataset",
    "DuplicateBookingId",
    "EventType",
    "Host",
    "IdFactory",
    "Invitee",
    "Location",
    "MemoryBookingStore",
    "Window",
]
