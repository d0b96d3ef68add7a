"""The digest email: one per member and period, naming each change with links, sent once by
the live worker over real SMTP; it never names a file, and its signed links stop watches."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from archiveportal import jobs
from harvest.models import ChangeKind
from queries.archive.sample import PROPRIETARY_CODE
from queries.models import ArchiveFile, Observation
from tests.factories import SavedSearchFactory, UserFactory
from tests.integration.waiting import wait_for_mail, wait_terminal
from tests.watches.conftest import record
from watches import digests, services
from watches.models import Digest, Watch

NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NEXT_DAY = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)


def watched_proprietary_project(member):
    saved = SavedSearchFactory(owner=member, params={"project_code": PROPRIETARY_CODE})
    services.watch(user=member, saved=saved, frequency="daily")
    rows = list(Observation.objects.filter(proposal_id=PROPRIETARY_CODE).order_by("obs_id"))
    return saved, rows


@pytest.mark.integration
def test_a_digest_names_each_change_with_its_links_and_leaves_once(
    live_worker, smtp_sink, sample, settings
):
    settings.PORTAL_BASE_URL = "https://portal.lab.example.org"
    member = UserFactory(email="watcher@lab.example.org")
    saved, rows = watched_proprietary_project(member)
    record(rows[0], ChangeKind.NEW)
    record(rows[-1], ChangeKind.RELEASE_MOVED, old=datetime(2030, 1, 1, tzinfo=UTC))
    services.evaluate_watches(now=NOON)

    (digest,) = services.queue_digests(now=NEXT_DAY)
    (message,) = wait_for_mail(smtp_sink, 1)
    assert wait_terminal(digest).phase == jobs.Phase.DONE and digest.sent_at is not None
    assert message["To"] == "watcher@lab.example.org"
    subject = " ".join(message["Subject"].split())  # unfolded
    assert subject == "[Archive Portal] 2 changes in your watched searches (daily, 2026-11-30)"
    text, html = (
        p.get_payload(decode=True).decode() for p in message.walk() if not p.is_multipart()
    )
    for body in (text, html):
        assert saved.name in body and rows[0].member_ous_uid in body
        assert "New observations" in body and "Release date moved" in body
        assert f"https://portal.lab.example.org/saved/{saved.pk}/" in body
    assert "2030-01-01 -> " in text
    assert (
        message["List-Unsubscribe"].strip().startswith("<https://portal.lab.example.org/watches/")
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    digests.deliver(str(digest.pk))  # a duplicate task finds the row sent
    assert len(smtp_sink.messages) == 1


@pytest.mark.django_db
def test_a_digest_never_names_a_file_of_data_its_reader_may_not_download(sample):
    member = UserFactory()  # neither PI nor delegate of the proprietary project
    _, rows = watched_proprietary_project(member)
    for row in rows:
        record(row, ChangeKind.NEW)
    services.evaluate_watches(now=NOON)
    (digest,) = services.queue_digests(now=NEXT_DAY)

    message = digests.message_for(Digest.objects.get(pk=digest.pk))
    bodies = message.body + "".join(content for content, _ in message.alternatives)
    files = ArchiveFile.objects.filter(member_ous__project__code=PROPRIETARY_CODE)
    assert files.exists()
    for name in files.values_list("name", flat=True):
        assert name not in bodies
    assert "/dataPortal/" not in bodies


@pytest.mark.django_db
def test_a_lab_list_watch_sends_its_digest_to_the_list_address(settings, band6):
    settings.WATCHES_LIST_ADDRESS = "alma-lab@lab.example.org"
    admin = UserFactory(is_superuser=True)
    saved = SavedSearchFactory(owner=admin, visibility="lab")
    services.watch(user=admin, saved=saved, frequency="immediate", to_list=True)
    record(band6[0], ChangeKind.NEW)
    services.evaluate_watches(now=NOON)
    (digest,) = services.queue_digests(now=NOON)
    assert digest.recipient == "list"
    assert digests.message_for(digest).to == ["alma-lab@lab.example.org"]


@pytest.mark.django_db
def test_the_signed_link_stops_the_watch_without_a_login(client, band6):
    saved = SavedSearchFactory(name="Orion band 6")
    watch = services.watch(user=saved.owner, saved=saved, frequency="weekly")
    url = reverse("watches:unsubscribe", args=[digests.unsubscribe_token([watch.pk])])

    asked = client.get(url)
    assert asked.status_code == 200 and "Stop watching Orion band 6?" in asked.text
    assert Watch.objects.filter(pk=watch.pk).exists()  # a link preview stops nothing
    stopped = client.post(url)  # what a mail client's one-click unsubscribe sends
    assert stopped.status_code == 200 and "Stopped: Orion band 6" in stopped.text
    assert not Watch.objects.filter(pk=watch.pk).exists()
    assert "already stopped" in client.post(url).text


@pytest.mark.django_db
def test_a_forged_or_cut_unsubscribe_link_stops_nothing(client, band6):
    saved = SavedSearchFactory()
    watch = services.watch(user=saved.owner, saved=saved, frequency="weekly")
    token = digests.unsubscribe_token([watch.pk])
    for bad in (token[:-3], "WzFd:forged:signature"):
        answer = client.post(reverse("watches:unsubscribe", args=[bad]))
        assert answer.status_code == 400 and "not valid" in answer.text
    assert Watch.objects.filter(pk=watch.pk).exists()
