"""The host format: the hosts and event types a booking target holds, in one JSON Schema.

booking-mock's dataset and the contract suite's profile both hold a ``hosts`` list of this
format (``openapi/hosts.schema.json``); their own schemas ``$ref`` it by its ``$id``. This
package is what the two loaders share: the schema, the checks a schema cannot state, and the
error that names the bad entry (``hosts[1].timezone: ...``). It imports neither loader, so
the reference (``mock_server``) and its judge (``contract_tests``) stay apart; each builds
its own objects from the checked entries.
"""

from ._errors import FormatError
from ._files import load_yaml, parse_yaml
from ._hosts import CheckedHost, check_hosts
from ._schema import document_validator, hosts_schema

__all__ = [
    "CheckedHost",
    "FormatError",
    "check_hosts",
    "document_validator",
    "hosts_schema",
    "load_yaml",
    "parse_yaml",
]
