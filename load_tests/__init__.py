"""Load tests for the booking API: Locust users, client simulation and the rate-limit verifier.

Run them with ``locust -f <this package>/locustfile.py --host URL``; ``locustfile_path()``
says where that file is when the package is installed. The verifier is usable on its
own: ``verify(records, limit, window)``.
"""

from pathlib import Path

from .verifier import Record, Slot, Verdict, Verifier, Violation, verify


def locustfile_path() -> Path:
    """The locustfile inside the installed package."""
    return Path(__file__).resolve().parent / "locustfile.py"


__all__ = ["Record", "Slot", "Verdict", "Verifier", "Violation", "locustfile_path", "verify"]
