"""``python -m load_tests``: print the path of the locustfile, for ``locust -f``."""

from . import locustfile_path

print(locustfile_path())
