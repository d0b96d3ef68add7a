"""Full sweeps (rows removed upstream), dry runs, and the harvest's refusals of bad input: each
with a message naming what is wrong, and nothing half-applied."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from archiveportal.jobs import Phase
from harvest.models import ChangeKind, HarvestRun, ObservationChange, SweptObservation
from queries.models import MemberOUS, Observation

pytestmark = pytest.mark.django_db(transaction=True)


def harvest(url: str, *args: str) -> HarvestRun:
    call_command("harvest_archive", "--archive-url", url, *args)
    return HarvestRun.objects.order_by("-created_at").first()


def test_a_full_sweep_removes_rows_gone_upstream_and_says_so(alma_replay):
    harvest(alma_replay.url)
    gone = alma_replay.obscore.pop(5)

    incremental = harvest(alma_replay.url)
    sweep = harvest(alma_replay.url, "--full")

    assert incremental.removed_count == 0  # only a sweep can notice a row that is gone
    assert sweep.removed_count == 1 and sweep.rows_seen == 416
    change = ObservationChange.objects.get(run=sweep)
    assert (change.kind, change.obs_id) == (ChangeKind.REMOVED, gone["obs_id"])
    assert not Observation.objects.filter(obs_id=gone["obs_id"]).exists()
    mous = MemberOUS.objects.get(uid=gone["member_ous_uid"])
    assert mous.n_observations == Observation.objects.filter(member_ous=mous).count()
    assert not SweptObservation.objects.exists()


def test_a_sweep_that_would_empty_the_mirror_is_refused(alma_replay):
    harvest(alma_replay.url)
    del alma_replay.obscore[100:]

    with pytest.raises(CommandError, match="would remove 317 of the mirror's 417"):
        harvest(alma_replay.url, "--full")

    assert Observation.objects.count() == 417
    assert HarvestRun.objects.order_by("-created_at").first().phase == Phase.FAILED


def test_a_dry_run_counts_and_changes_nothing(alma_replay):
    run = harvest(alma_replay.url, "--dry-run")

    assert run.phase == Phase.DONE and (run.rows_seen, run.new_count) == (417, 417)
    assert Observation.objects.count() == 0 and not ObservationChange.objects.exists()


def test_a_malformed_upstream_row_fails_the_run_naming_row_and_column(alma_replay):
    alma_replay.obscore.sort(key=lambda r: (r["lastModified"], r["obs_id"]))
    alma_replay.obscore[150]["s_ra"] = "twelve"

    with pytest.raises(CommandError, match=r"row 151, column 's_ra': value 'twelve' is invalid"):
        harvest(alma_replay.url)

    run = HarvestRun.objects.get()
    assert run.phase == Phase.FAILED and "column 's_ra'" in run.error_message
    assert f"{alma_replay.url} ivoa.obscore (obs_id {alma_replay.obscore[150]['obs_id']})" in (
        run.error_message
    )
    # The page holding the bad row applied nothing; the pages before it stay.
    assert Observation.objects.count() == run.rows_seen == 100


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--archive-url", "almascience.org"], "--archive-url: 'almascience.org' is not an"),
        (["--since", "last tuesday"], "--since: 'last tuesday' is not a date. Accepted: an ISO"),
        (["--since", "2024-01-01", "--full"], "--since and --full exclude each other"),
    ],
)
def test_bad_arguments_are_refused_with_the_accepted_syntax(args, message, alma_replay):
    if args[0] != "--archive-url":
        args = ["--archive-url", alma_replay.url, *args]
    with pytest.raises(CommandError, match=message):
        call_command("harvest_archive", *args)
    assert not HarvestRun.objects.exists()


def test_an_archive_url_where_nothing_answers_fails_after_its_retry(harvest_settings):
    with pytest.raises(CommandError, match="TAP service did not answer usably"):
        harvest("http://127.0.0.1:9")

    run = HarvestRun.objects.get()
    assert run.phase == Phase.FAILED and "Gave up after 1 retries" in run.error_message


def test_an_upstream_tap_error_fails_the_run_with_its_reason(alma_replay):
    alma_replay.set_mode("reject")

    with pytest.raises(CommandError, match="Column 'bogus' does not exist"):
        harvest(alma_replay.url)

    assert HarvestRun.objects.get().phase == Phase.FAILED
