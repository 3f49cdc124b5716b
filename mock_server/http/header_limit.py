"""431 for request headers over the limit, before anything reads or counts the request."""

from __future__ import annotations

from starlette.types import Scope

from ..errors import HeadersTooLarge

DEFAULT_MAX_HEADER_BYTES = 16 * 1024
"""Names and values of all request headers together; Node.js refuses beyond the same."""


def oversized(scope: Scope, max_bytes: int) -> HeadersTooLarge | None:
    """The 431 for a request whose headers total more than ``max_bytes``, else None."""
    size = 0
    for name, value in scope["headers"]:
        size += len(name) + len(value)
    if size <= max_bytes:
        return None
    return HeadersTooLarge(
        f"The request headers total {size} bytes; the mock accepts at most {max_bytes}."
    )
