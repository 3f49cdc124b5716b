"""Broken booking servers shared by the test kits: the reference with one fault of ours.

The contract suite's self-test (``tests/contract_tests/broken*.py``, its FAULTS
tables) and the load tests' runs (``tests/load_tests/test_runs.py``) build their
broken servers from the same parts:

- ``asgi``: a `Layer` that rewrites a request or the reference's answer, and the one
  way an answer is captured and sent (`emit`, `send_json`, `refusal`);
- ``stores``: `BrokenStore`, a booking store with one fault, for `Settings(store=...)`;
- ``limiters``: rate-limiter models, right and wrong, as plain objects;
- ``gate``: `LimiterGate`, a model served in front of the reference, and the readings
  of who the client is;
- ``reference``: the reference app, through its public `Settings` and `create_app`.

Every fault is test code; none is a switch in the product.
"""

from .asgi import BOOK, Captured, Layer, booking_answer, json_request, refusal, send_json
from .gate import LimiterGate, any_peer_trusted, behind_limiter, left_most_hop, trusted_client
from .reference import UNLIMITED, reference
from .stores import STORE_FAULTS, BrokenStore

__all__ = [
    "BOOK",
    "STORE_FAULTS",
    "UNLIMITED",
    "BrokenStore",
    "Captured",
    "Layer",
    "LimiterGate",
    "any_peer_trusted",
    "behind_limiter",
    "booking_answer",
    "json_request",
    "left_most_hop",
    "reference",
    "refusal",
    "send_json",
    "trusted_client",
]
