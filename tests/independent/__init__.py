"""An independent implementation of the public booking API, for the contract suite's self-test.

Written from PRODUCT.md and openapi/booking.yaml alone; wherever the contract leaves room
it deliberately chooses the other way than the reference (see README.md).
"""

from .server import create_app

__all__ = ["create_app"]
