"""Harvesting another Archive Portal: a real second portal serving the sample over TAP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from archiveportal.jobs import Phase
from downloads.access import decide_many
from harvest.models import ChangeKind, HarvestRun, ObservationChange
from queries.archive.sample import PROPRIETARY_CODE
from queries.models import MemberOUS, Observation
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def harvest(url: str, *args: str) -> HarvestRun:
    call_command("harvest_archive", "--archive-url", url, *args)
    return HarvestRun.objects.order_by("-created_at").first()


def upstream_rows(upstream) -> int:
    return upstream.fetch("SELECT count(*) FROM queries_observation")[0][0]


def test_a_portal_serving_the_sample_is_harvested_whole_then_nothing_changes(portal_upstream):
    run = harvest(portal_upstream.url)

    assert run.phase == Phase.DONE
    assert run.rows_seen == run.new_count == upstream_rows(portal_upstream)
    assert Observation.objects.count() == run.rows_seen
    assert MemberOUS.objects.filter(uid="uid://A001/X99f1/X11").exists()

    again = harvest(portal_upstream.url)
    sweep = harvest(portal_upstream.url, "--full")
    assert (again.new_count, again.changed_count, again.released_count) == (0, 0, 0)
    assert (sweep.new_count, sweep.changed_count, sweep.removed_count) == (0, 0, 0)
    assert ObservationChange.objects.exclude(run=run).count() == 0


def test_a_portal_that_wants_a_token_refuses_a_harvester_without_one(
    upstream_portal, harvest_settings
):
    with pytest.raises(CommandError, match="personal token"):
        harvest(upstream_portal.url)

    run = HarvestRun.objects.get()
    assert run.phase == Phase.FAILED and "personal token" in run.error_message
    assert upstream_portal.token not in run.error_message
    assert Observation.objects.count() == 0


def test_a_proprietary_mous_made_public_upstream_is_downloadable_after_the_harvest(
    sample, portal_upstream, proprietary_made_public
):
    member = UserFactory()
    mouses = [
        m for m in MemberOUS.objects.filter(project__code=PROPRIETARY_CODE) if not m.is_released()
    ]
    assert mouses
    before = decide_many(member, mouses, surface="test")
    assert not any(decision.allowed for decision in before.values())

    run = harvest(portal_upstream.url, "--since", (timezone.now() - timedelta(hours=1)).isoformat())

    assert run.phase == Phase.DONE
    mouses = list(MemberOUS.objects.filter(pk__in=[m.pk for m in mouses]))
    assert {m.release_date for m in mouses} == {proprietary_made_public}
    after = decide_many(member, mouses, surface="test")
    assert all(decision.allowed for decision in after.values())
    released = ObservationChange.objects.filter(run=run, kind=ChangeKind.RELEASED)
    assert set(released.values_list("member_ous_uid", flat=True)) == {m.uid for m in mouses}
    assert released.count() == Observation.objects.filter(member_ous__in=mouses).count()
    assert run.released_count == released.count()
    # Only the released project's rows were fetched, changed and told.
    assert set(ObservationChange.objects.filter(run=run).values_list("proposal_id", flat=True)) == {
        PROPRIETARY_CODE
    }
