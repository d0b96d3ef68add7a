"""What TAP says about access agrees with what downloads do, and its links lead to the portal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from downloads import access
from queries.models import MemberOUS, Observation
from vo import adql, catalogue, execute

pytestmark = pytest.mark.django_db


@pytest.fixture
def sample(settings, tmp_path):
    settings.LAB_DATA_ROOT = tmp_path / "labdata"
    settings.PORTAL_BASE_URL = "https://portal.lab.example"
    call_command("load_sample", verbosity=0)


def tap(statement: str, at: datetime) -> list[tuple]:
    translation = adql.translate(statement, catalogue.tables(at=at), vendor=connection.vendor)
    return execute.run(translation, maxrec=100_000).rows


def instants() -> list[datetime]:
    dates = sorted(
        d for d in MemberOUS.objects.values_list("release_date", flat=True) if d and d.year < 3000
    )
    middle = dates[len(dates) // 2]
    return [datetime(2000, 1, 1, tzinfo=UTC), middle, dates[-1], datetime(2999, 1, 1, tzinfo=UTC)]


def test_data_rights_agrees_with_the_download_decision_for_every_row_at_every_instant(sample):
    mouses = {m.pk: m for m in MemberOUS.objects.all()}
    member_of = dict(Observation.objects.values_list("obs_id", "member_ous_id"))
    for at in instants():
        rows = tap("SELECT obs_id, data_rights FROM ivoa.obscore", at)
        assert len(rows) == len(member_of)
        for obs_id, rights in rows:
            mous = mouses.get(member_of[obs_id])
            public = mous is not None and access.is_public(mous, now=at)
            assert rights == ("Public" if public else "Proprietary"), (obs_id, at)


def test_the_release_instant_itself_counts_as_released(sample):
    mous = (
        MemberOUS.objects.exclude(release_date__isnull=True)
        .filter(release_date__year__lt=3000)
        .first()
    )
    obs_id = Observation.objects.filter(member_ous=mous).values_list("obs_id", flat=True).first()
    query = f"SELECT data_rights FROM ivoa.obscore WHERE obs_id = '{obs_id}'"
    assert tap(query, mous.release_date) == [("Public",)]
    assert tap(query, mous.release_date - timedelta(microseconds=1)) == [("Proprietary",)]


def test_access_url_is_the_portals_datalink_for_the_member_ous(sample):
    rows = tap("SELECT access_url, member_ous_uid FROM ivoa.obscore", datetime.now(UTC))
    assert rows
    for url, uid in rows:
        assert url == f"https://portal.lab.example/datalink/sync?ID={uid}"
    assert not tap(
        "SELECT obs_id FROM ivoa.obscore WHERE access_url LIKE '%almascience%'", datetime.now(UTC)
    )
