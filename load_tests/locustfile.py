"""Locust entry point: ``locust -f load_tests/locustfile.py --host URL`` (see --help for ours).

The users book and probe the booking endpoint; the plugin's verifier judges every
response and fails the run (exit code 1) on any rate-limit or double-booking
violation.
"""

from load_tests import plugin  # noqa: F401  (registers the arguments and the verifier)
from load_tests.users import BookingUser, RateLimitProbe

__all__ = ["BookingUser", "RateLimitProbe"]
