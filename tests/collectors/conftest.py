"""Fixtures for collector tests: the loopback server and a recording sleep."""

from __future__ import annotations

import pytest

from tests.collectors.helpers import RecordingSleep
from tests.support.loopback import LoopbackServer, loopback_server  # noqa: F401 - fixture for these tests


@pytest.fixture
def server(loopback_server: LoopbackServer) -> LoopbackServer:  # noqa: F811 - pytest injects the fixture
    """Shorter name for the loopback server fixture."""
    return loopback_server


@pytest.fixture
def recording_sleep() -> RecordingSleep:
    """An injectable sleep that records waits instead of sleeping."""
    return RecordingSleep()
