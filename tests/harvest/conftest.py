"""Fixtures of the harvest tests: the upstreams a harvest reads (a second portal serving the
sample, a replay of real ALMA rows) and a harvester configured for them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from queries.archive.sample import PROPRIETARY_CODE
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


@pytest.fixture
def proprietary_made_public(portal_upstream):
    """The upstream releases the sample's proprietary project now (as ALMA does when a PI
    waives the period or a date was wrong); restored afterwards for the module's other tests."""
    saved = portal_upstream.fetch(
        "SELECT obs_id, obs_release_date, last_modified FROM queries_observation "
        "WHERE proposal_id = %s",
        (PROPRIETARY_CODE,),
    )
    saved_mous = portal_upstream.fetch(
        "SELECT m.uid, m.release_date FROM queries_memberous m JOIN queries_project p "
        "ON p.id = m.project_id WHERE p.code = %s",
        (PROPRIETARY_CODE,),
    )
    released = (timezone.now() - timedelta(days=1)).replace(microsecond=0)
    # lastModified in milliseconds, as ALMA keeps it and as TAP writes it.
    portal_upstream.execute(
        "UPDATE queries_observation SET obs_release_date = %s, "
        "last_modified = date_trunc('milliseconds', now()) "
        "WHERE proposal_id = %s",
        (released, PROPRIETARY_CODE),
    )
    portal_upstream.execute(
        "UPDATE queries_memberous SET release_date = %s WHERE uid = ANY(%s)",
        (released, [uid for uid, _ in saved_mous]),
    )
    yield released
    for obs_id, release, modified in saved:
        portal_upstream.execute(
            "UPDATE queries_observation SET obs_release_date = %s, last_modified = %s "
            "WHERE obs_id = %s",
            (release, modified, obs_id),
        )
    for uid, release in saved_mous:
        portal_upstream.execute(
            "UPDATE queries_memberous SET release_date = %s WHERE uid = %s", (release, uid)
        )
