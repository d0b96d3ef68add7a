"""A harvest killed at any point continues from its cursor and ends with the mirror an
uninterrupted harvest leaves: no row twice, no row missed, one change per row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from archiveportal import jobs
from archiveportal.jobs import Phase
from harvest import services
from harvest.merge import COMPARED
from harvest.models import ChangeKind, HarvestRun, ObservationChange
from queries.models import MemberOUS, Observation, Project
from tests.harvest.changes import journal
from tests.harvest.upstream import ROOT, conninfo, database_url

pytestmark = pytest.mark.django_db(transaction=True)


class Killed(Exception):
    pass


def mirror() -> list[tuple]:
    """Everything a harvest decides, row by row (not ids, which depend on insertion order)."""
    rows = Observation.objects.order_by("obs_id").values_list(*[f.attname for f in COMPARED])
    mouses = MemberOUS.objects.order_by("uid").values_list(
        "uid", "project__code", "release_date", "n_observations", "band_mask", "t_exptime"
    )
    return [*rows, *mouses, *Project.objects.order_by("code").values_list("code", "title")]


def forget_everything() -> None:
    ObservationChange.objects.all().delete()
    HarvestRun.objects.all().delete()
    Observation.objects.all().delete()
    Project.objects.all().delete()


def lease_runs_out(run: HarvestRun) -> None:
    """What the passing of one lease does to a killed harvester's run."""
    HarvestRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(1))


def test_a_harvest_killed_inside_a_page_resumes_to_the_same_mirror(alma_replay):
    run = services.start_run(archive_url=alma_replay.url)
    run = jobs.claim(HarvestRun, str(run.pk))

    def die_on_page_three(current, page):
        if page == 3:
            raise Killed

    with pytest.raises(Killed):
        services.execute(run, inside_page=die_on_page_three)
    jobs.stop_heartbeat(run.pk)
    run.refresh_from_db()
    # Pages one and two are applied with their cursor; page three left no trace. A first load
    # journals its rows when its pages are done: none yet.
    assert run.rows_seen == 200 and Observation.objects.count() == 200
    assert ObservationChange.objects.count() == 0

    lease_runs_out(run)
    call_command("harvest_archive", "--archive-url", alma_replay.url)

    resumed = HarvestRun.objects.get()
    assert resumed.pk == run.pk and resumed.phase == Phase.DONE
    assert (resumed.rows_seen, resumed.new_count) == (417, 417)
    assert ObservationChange.objects.filter(kind=ChangeKind.NEW).count() == 417
    killed_then_resumed = mirror(), journal()

    forget_everything()
    call_command("harvest_archive", "--archive-url", alma_replay.url)
    assert (mirror(), journal()) == killed_then_resumed


def test_a_harvest_process_killed_with_sigkill_resumes_to_the_same_mirror(alma_replay):
    # Every upstream answer waits a little, so the process is surely killed mid-harvest.
    alma_replay.set_mode("slow", slow_seconds=0.5)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(
            conninfo(connection.settings_dict, connection.settings_dict["NAME"])
        ),
        "HARVEST_PAGE_ROWS": "50",
    }
    env.setdefault("SECRET_KEY", "tests-only-not-a-secret")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "harvest_archive", "--archive-url", alma_replay.url],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            run = HarvestRun.objects.first()
            if run is not None and run.rows_seen >= 100:
                break
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    run = HarvestRun.objects.get()
    assert run.phase == Phase.RUNNING and 100 <= run.rows_seen < 417
    assert Observation.objects.count() == run.rows_seen

    alma_replay.set_mode("normal")
    lease_runs_out(run)
    call_command("harvest_archive", "--archive-url", alma_replay.url)

    run.refresh_from_db()
    assert run.phase == Phase.DONE and (run.rows_seen, run.new_count) == (417, 417)
    assert ObservationChange.objects.filter(kind=ChangeKind.NEW).count() == 417
    killed_then_resumed = mirror(), journal()
    forget_everything()
    call_command("harvest_archive", "--archive-url", alma_replay.url)
    assert (mirror(), journal()) == killed_then_resumed


def test_a_first_load_failed_mid_way_journals_its_pages_and_its_resumption_ends_the_same(
    alma_replay,
):
    # A row of the third page (100 rows a page) upstream is malformed: the run fails there.
    ordered = sorted(alma_replay.obscore, key=lambda r: (r["lastModified"], r["obs_id"]))
    bad = ordered[250]
    right = bad["s_ra"]
    bad["s_ra"] = "twelve"
    with pytest.raises(CommandError, match="failed"):
        call_command("harvest_archive", "--archive-url", alma_replay.url)
    run = HarvestRun.objects.get()
    assert run.phase == Phase.FAILED and run.rows_seen == 200
    # Failing, the first load built its indexes back and journaled the pages it applied: its
    # resumption takes the merge, and finds what they touched in the journal.
    assert run.deferred_indexes == []
    assert ObservationChange.objects.filter(run=run, kind=ChangeKind.NEW).count() == 200

    bad["s_ra"] = right
    call_command("harvest_archive", "--archive-url", alma_replay.url)

    resumed = HarvestRun.objects.get()
    assert resumed.phase == Phase.DONE and (resumed.rows_seen, resumed.new_count) == (417, 417)
    # The rows' changes are those of an uninterrupted run. (Not the release kinds: the failed
    # run left the member OUSs of its pages created empty, without a release date, until the
    # resumed final step derived them; that journals them as released or moved.)
    failed_then_resumed = mirror(), journal(ChangeKind.NEW, ChangeKind.CHANGED)
    forget_everything()
    call_command("harvest_archive", "--archive-url", alma_replay.url)
    assert (mirror(), journal(ChangeKind.NEW, ChangeKind.CHANGED)) == failed_then_resumed


def test_a_second_harvest_waits_for_the_one_running(alma_replay):
    run = jobs.claim(HarvestRun, str(services.start_run(archive_url=alma_replay.url).pk))
    try:
        with pytest.raises(services.HarvestBusy, match="already running"):
            services.start_run(archive_url=alma_replay.url, mode="full")
    finally:
        jobs.stop_heartbeat(run.pk)
