"""Locust entry point: ``locust -f load_tests/locustfile.py --host URL`` plus our options.

The users book and probe the booking endpoint; the plugin's verifier judges every
response and fails the run (exit code 1) on any rate-limit or double-booking
violation. Our options (``--target-profile``, ``--rate-limit``, ``--client-mode``,
``--clients``, ``--probes``, ``--probe-pace``, ``--forging-probes``, ``--verdict-json``)
are described in ``load_tests/settings.py``; Locust's ``--help`` lists only its own.
"""

from load_tests import plugin  # noqa: F401  (registers the arguments and the verifier)
from load_tests.users import BookingUser, ForgedHopProbe, RateLimitProbe, UntrustedPeerProbe

__all__ = ["BookingUser", "ForgedHopProbe", "RateLimitProbe", "UntrustedPeerProbe"]
