"""``python -m contract_tests``: the same as ``booking-contract``."""

from .cli import main

raise SystemExit(main())
