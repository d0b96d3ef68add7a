"""Fixtures of the queries tests: a replayed ALMA archive on loopback."""

import pytest

from tests.archive_replay import ReplayServer


@pytest.fixture
def archive_server(settings):
    with ReplayServer() as state:
        settings.ARCHIVE_URL = state.url
        settings.ARCHIVE_TIMEOUT = 2.0
        yield state
