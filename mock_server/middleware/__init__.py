"""The ASGI pieces around the Connexion app, one concern each, outermost first in app.py."""

from .access_log import AccessLog
from .admin_guard import AdminGuard
from .body_limit import BodyLimit
from .book_endpoint import BookEndpoint
from .cors import SplitCORS
from .gate import BookingGate
from .header_limit import HeaderLimit
from .latency import Latency
from .prefer import ForcedResponses

__all__ = [
    "AccessLog",
    "AdminGuard",
    "BodyLimit",
    "BookEndpoint",
    "BookingGate",
    "ForcedResponses",
    "HeaderLimit",
    "Latency",
    "SplitCORS",
]
