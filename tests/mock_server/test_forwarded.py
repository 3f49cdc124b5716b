"""--forwarded-allow-ips: the quick trust check answers as uvicorn's own does."""

from __future__ import annotations

import pytest
from uvicorn.middleware.proxy_headers import _TrustedHosts

from mock_server.http.forwarded import QuickTrust

CONFIGS = [
    [],
    ["127.0.0.1"],
    ["127.0.0.1", "10.0.0.7", "proxy.internal", "unix:/tmp/socket"],
    ["::1", "127.0.0.1"],
    ["10.0.0.0/8", "127.0.0.1"],
    ["*"],
    "127.0.0.1, 192.168.1.1",
]
HOSTS = [
    None,
    "",
    "127.0.0.1",
    "127.0.0.01",
    "127.0.0.1 ",
    "0127.0.0.1",
    "10.0.0.7",
    "10.1.2.3",
    "192.168.1.1",
    "::1",
    "0:0:0:0:0:0:0:1",
    "::ffff:127.0.0.1",
    "proxy.internal",
    "unix:/tmp/socket",
    "localhost",
    "256.1.1.1",
    "x" * 300,
]


@pytest.mark.parametrize("config", CONFIGS, ids=repr)
def test_the_quick_trust_check_agrees_with_uvicorns(config):
    uvicorns, ours = _TrustedHosts(config), QuickTrust(config)
    for host in HOSTS:
        assert (host in ours) == (host in uvicorns), host
    for header in ("10.1.2.3", "10.1.2.3, 127.0.0.1", "127.0.0.1, 10.0.0.7", "::1, 127.0.0.1"):
        assert ours.get_trusted_client_address(header) == uvicorns.get_trusted_client_address(
            header
        )
