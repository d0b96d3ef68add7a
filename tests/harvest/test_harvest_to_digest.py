"""From upstream to inbox: a row changes at the upstream archive, the scheduled harvest on the
live worker applies exactly that change, the finished harvest has the worker evaluate the watches
at once, and each member watching a matching search gets exactly one email naming it, over real
SMTP; a proprietary member OUS released upstream becomes downloadable and its watchers are told.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.utils import timezone

from archiveportal.jobs import Phase
from downloads.access import decide_many
from harvest.models import ChangeKind, HarvestRun, ObservationChange
from harvest.tasks import scheduled_harvest
from queries.archive.sample import PROPRIETARY_CODE
from queries.models import MemberOUS, Observation, SavedSearch
from tests.factories import SavedSearchFactory, UserFactory
from tests.harvest.upstream import UpstreamPortal
from tests.integration.waiting import wait_for_mail, wait_terminal, wait_until
from watches import services
from watches.models import Digest, Frequency

pytestmark = pytest.mark.integration


@pytest.fixture
def mirrored(portal_upstream, harvest_settings) -> UpstreamPortal:
    """The mirror holds the upstream (first harvest, run here) and the beat's harvests read it."""
    call_command("harvest_archive", "--archive-url", portal_upstream.url)
    harvest_settings.HARVEST_ARCHIVE_URL = portal_upstream.url
    return portal_upstream


@pytest.fixture
def row_changed_upstream(mirrored) -> Iterator[tuple[str, str]]:
    """One row of a public project gets a new exposure time upstream (a re-reduction, say);
    yields (obs_id, project code) and restores the row for the module's other tests."""
    ((obs_id, code, exptime, modified),) = mirrored.fetch(
        "SELECT obs_id, proposal_id, t_exptime, last_modified FROM queries_observation "
        "WHERE proposal_id <> %s AND obs_release_date < now() ORDER BY obs_id LIMIT 1",
        (PROPRIETARY_CODE,),
    )
    mirrored.execute(
        "UPDATE queries_observation SET t_exptime = t_exptime + 60, "
        "last_modified = date_trunc('milliseconds', now()) WHERE obs_id = %s",
        (obs_id,),
    )
    yield obs_id, code
    mirrored.execute(
        "UPDATE queries_observation SET t_exptime = %s, last_modified = %s WHERE obs_id = %s",
        (exptime, modified, obs_id),
    )


def watcher(params: dict, *, email: str, lab_wide: bool = False):
    """A member watching a search with ``params`` as it happens: their own, or (``lab_wide``)
    one an administrator shared with the lab."""
    member = UserFactory(email=email)
    if lab_wide:
        owner = UserFactory(is_superuser=True)
        saved = SavedSearchFactory(
            owner=owner, params=params, visibility=SavedSearch.Visibility.LAB
        )
    else:
        saved = SavedSearchFactory(owner=member, params=params)
    services.watch(user=member, saved=saved, frequency=Frequency.IMMEDIATE)
    return member, saved


def harvested_by_the_worker() -> HarvestRun:
    run = wait_terminal(HarvestRun.objects.get(pk=scheduled_harvest()))
    assert run.phase == Phase.DONE, run.error_message
    return run


def mails_to(sink, count: int) -> dict[str, str]:
    """The ``count`` emails the sink got, as {address: plain text}, once their digests are done
    (so a duplicate would have been sent by then)."""
    messages = wait_for_mail(sink, count)
    wait_until(
        lambda: not Digest.objects.exclude(phase=Phase.DONE).exists(),
        "every digest sent: "
        + repr(list(Digest.objects.values_list("recipient", "phase", "error_message"))),
    )
    texts = {}
    for message in messages:
        (text, _html) = (
            part.get_payload(decode=True).decode()
            for part in message.walk()
            if not part.is_multipart()
        )
        texts[message["To"]] = text
    return texts


def test_a_row_changed_upstream_reaches_each_watcher_of_a_matching_search_once(
    live_worker, smtp_sink, row_changed_upstream
):
    obs_id, code = row_changed_upstream
    changed = Observation.objects.get(obs_id=obs_id)
    own, _ = watcher({"project_code": code}, email="own@lab.example.org")
    shared, _ = watcher({"project_code": code}, email="shared@lab.example.org", lab_wide=True)
    watcher({"project_code": PROPRIETARY_CODE}, email="elsewhere@lab.example.org")

    run = harvested_by_the_worker()

    assert (run.new_count, run.changed_count, run.removed_count) == (0, 1, 0)
    assert list(ObservationChange.objects.filter(run=run).values_list("obs_id", "kind")) == [
        (obs_id, ChangeKind.CHANGED)
    ]
    assert Observation.objects.get(obs_id=obs_id).t_exptime == changed.t_exptime + 60
    texts = mails_to(smtp_sink, 2)
    assert set(texts) == {own.email, shared.email}
    for text in texts.values():
        assert changed.member_ous_uid in text and code in text
    assert Digest.objects.count() == 2
    # Evaluating again (the beat's catch-up) finds nothing left to tell.
    assert services.evaluate_watches() == 0 and services.queue_digests() == []
    assert len(smtp_sink.messages) == 2


def test_a_proprietary_mous_released_upstream_is_downloadable_and_its_watchers_told(
    live_worker, smtp_sink, mirrored, proprietary_made_public
):
    member, _ = watcher({"project_code": PROPRIETARY_CODE}, email="watcher@lab.example.org")
    sealed = [
        m for m in MemberOUS.objects.filter(project__code=PROPRIETARY_CODE) if not m.is_released()
    ]
    before = decide_many(member, sealed, surface="test")
    assert sealed and not any(decision.allowed for decision in before.values())

    run = harvested_by_the_worker()

    released = list(MemberOUS.objects.filter(pk__in=[m.pk for m in sealed]))
    assert all(d.allowed for d in decide_many(member, released, surface="test").values())
    assert run.released_count == Observation.objects.filter(member_ous__in=released).count()
    (text,) = mails_to(smtp_sink, 1).values()
    assert "Became public" in text
    for mous in released:
        assert mous.uid in text
    assert timezone.localdate(proprietary_made_public).isoformat() in text
