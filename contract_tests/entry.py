"""The pytest11 entry point: the contract suite's plugin where ``[contract]`` is installed.

Every pytest run of an environment with the toolkit loads this module. Where only the
mock is installed (someone's own pytest beside ``booking-mock``), the suite's
dependencies are missing and the plugin stays out of the way instead of breaking the run.
"""

from __future__ import annotations

try:
    from .plugin import *  # noqa: F403  (its hooks, registered under this entry point)
except ImportError as exc:  # pragma: no cover - exercised by an install without the extra
    if (exc.name or "").split(".")[0] not in ("httpx", "schemathesis", "hypothesis"):
        raise
