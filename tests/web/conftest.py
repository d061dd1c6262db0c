"""Fixtures for the HTTP and WebSocket tests (helpers in web_support.py)."""

from __future__ import annotations

import pytest

from web_support import Cert, WebFactory, make_cert, web_factory


@pytest.fixture(scope="session")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def web_node(cert: Cert) -> WebFactory:
    """``async with web_node("webserver", "https") as web``."""
    return web_factory(cert)
