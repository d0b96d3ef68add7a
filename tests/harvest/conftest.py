"""Fixtures of the harvest tests: the upstreams a harvest reads (a second portal serving the
sample, a replay of real ALMA rows) and a harvester configured for them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from tests.archive_replay import ReplayServer, load_obscore_union
from tests.harvest.upstream import UpstreamPortal, start_upstream


@pytest.fixture(scope="module")
def upstream_portal(
    django_db_setup, django_db_blocker, tmp_path_factory
) -> Iterator[UpstreamPortal]:
    with django_db_blocker.unblock():
        settings_dict = dict(connection.settings_dict)
    yield from start_upstream(settings_dict, tmp_path_factory.mktemp("upstream"))


@pytest.fixture
def harvest_settings(settings):
    """Small pages (so every harvest has several), one quick retry, a short timeout."""
    settings.HARVEST_PAGE_ROWS = 100
    settings.HARVEST_MAX_RETRIES = 1
    settings.ARCHIVE_TIMEOUT = 10.0
    settings.ARCHIVE_TOKEN = ""
    settings.HARVEST_MAX_REMOVED_FRACTION = 0.2
    return settings


@pytest.fixture
def portal_upstream(upstream_portal, harvest_settings) -> UpstreamPortal:
    """The second portal, with its token in ARCHIVE_TOKEN as an operator would set it."""
    harvest_settings.ARCHIVE_TOKEN = upstream_portal.token
    return upstream_portal


@pytest.fixture
def alma_replay(harvest_settings):
    """A replay of ALMA's TAP answering harvest pages from 417 real ObsCore rows."""
    with ReplayServer() as state:
        state.obscore = load_obscore_union()
        yield state
