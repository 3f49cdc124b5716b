"""The ASGI pieces around the Connexion app, one concern each."""

from .access_log import AccessLog
from .body_limit import BodyLimit
from .gate import BookingGate

__all__ = ["AccessLog", "BodyLimit", "BookingGate"]
