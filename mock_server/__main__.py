"""``python -m mock_server``, the same as ``booking-mock``."""

import sys

from .cli import main

sys.exit(main())
