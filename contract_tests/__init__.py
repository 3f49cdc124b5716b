"""The booking API's contract suite: pytest + Schemathesis, runnable against any base URL.

``booking-contract --base-url URL [--profile FILE]`` runs it (``cli.main``), as does
``pytest contract_tests --base-url URL``. A profile says what the target holds
(``load_profile``); the suite knows nothing else of it but the OpenAPI document.
"""

from .profile import Profile, ProfileError, load_profile, parse_rate_limit
from .spec import spec_path

__all__ = ["Profile", "ProfileError", "load_profile", "parse_rate_limit", "spec_path"]
