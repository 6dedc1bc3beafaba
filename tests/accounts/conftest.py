from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.peers.fake_fixtures import FakeAppServer

# The fake App Server answers to these keys (as its users 0 and 1). Shaped like real keys and
# unlike any text on a page, so that the leak checks can look for every piece of them.
UPSTREAM_KEY = "sk-oh-Uq5Hd8Wq2Zr7Lm4Xc9Vb3Nt6PaYe"
OTHER_UPSTREAM_KEY = "sk-oh-Gz6Tb1Yw8Kn3Fs5Dq9Mx2Lp7Vh4"


@pytest.fixture
def upstream(request: pytest.FixtureRequest) -> FakeAppServer:
    """Return the fake App Server (a real process on loopback), accepting our two keys."""
    # Looked up by name: a parameter would shadow the imported fixture function.
    server: FakeAppServer = request.getfixturevalue("fake_app_server")
    server.reset(api_keys=[UPSTREAM_KEY, OTHER_UPSTREAM_KEY])
    return server


@pytest.fixture
def upstream_user(upstream: FakeAppServer) -> dict[str, Any]:
    """Return the fake's user that UPSTREAM_KEY belongs to (id, email, org_id, org_name)."""
    return upstream.state()["users"][0]


@pytest.fixture
def unreachable_base_url() -> str:
    """Return an address on loopback where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
