"""Shared helpers for the watches tests: a finished harvest run and the changes it recorded,
written the way the harvester writes them (``harvest.models``)."""

from __future__ import annotations

import pytest

from archiveportal import jobs
from harvest.models import HarvestRun, ObservationChange


def finished_run(phase: str = jobs.Phase.DONE) -> HarvestRun:
    return HarvestRun.objects.create(archive_url="http://upstream.test/tap", phase=phase)


def record(observation, kind: str, *, run: HarvestRun | None = None, old=None, new=None):
    """The journal row a harvest writes when ``observation`` changed in the way ``kind`` says."""
    return ObservationChange.objects.create(
        run=run or finished_run(),
        obs_id=observation.obs_id,
        member_ous_uid=observation.member_ous_uid,
        proposal_id=observation.proposal_id,
        kind=kind,
        old_release_date=old,
        new_release_date=new if new is not None else observation.obs_release_date,
    )


@pytest.fixture
def band6(db):
    """A band-6 observation (what the default saved search selects) and a band-3 one."""
    from tests.factories import ObservationFactory

    return ObservationFactory(band_list="6"), ObservationFactory(band_list="3")
