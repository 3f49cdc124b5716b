"""The booking API's contract suite: pytest + Schemathesis, runnable against any base URL.

``booking-contract --base-url URL [--profile FILE]`` runs it (``cli.main``), as does
``pytest contract_tests --base-url URL``. A profile says what the target holds
(``load_profile``); the suite knows nothing else of it but the OpenAPI document.

The rest of what is exported is the contract's own reckoning, which the load tests
share rather than copy: the slot grid and the bookable bounds, the slot-taken
message, the RateLimit fields, and the CI summary's writer.
"""

from .profile import EventType, Host, Profile, ProfileError, load_profile, parse_rate_limit
from .ratelimit import FieldSyntaxError, Quota, parse_quota
from .slots import SLOT_TAKEN, Slot, bookable_bounds, grid, local_day, occupied, utc_text
from .spec import book_path, spec_path
from .step_summary import append_step_summary, cell

__all__ = [
    "SLOT_TAKEN",
    "EventType",
    "FieldSyntaxError",
    "Host",
    "Profile",
    "ProfileError",
    "Quota",
    "Slot",
    "append_step_summary",
    "book_path",
    "bookable_bounds",
    "cell",
    "grid",
    "load_profile",
    "local_day",
    "occupied",
    "parse_quota",
    "parse_rate_limit",
    "spec_path",
    "utc_text",
]
