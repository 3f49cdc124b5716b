"""``booking-contract watch``: judge live traffic between any client and any server.

``proxy`` forwards (``WatchingProxy``), ``judge`` checks each answer's shape against the
API document, ``session`` feeds the load tests' rate-limit verifier and reports, ``cli``
is the command.
"""

from .cli import main
from .proxy import Watched, WatchingProxy
from .session import WatchSession

__all__ = ["WatchSession", "Watched", "WatchingProxy", "main"]
