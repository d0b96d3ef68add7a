"""The watch control on the saved-searches page, the watches page and What's new."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from harvest.models import ChangeKind
from queries.models import SavedSearch
from tests.factories import SavedSearchFactory, UserFactory
from tests.watches.conftest import record
from watches import services
from watches.models import Watch

pytestmark = pytest.mark.django_db


def test_the_saved_searches_page_offers_a_watch_on_each_search(client):
    saved = SavedSearchFactory()
    lab = SavedSearchFactory(visibility=SavedSearch.Visibility.LAB)
    client.force_login(saved.owner)
    page = client.get(reverse("queries:saved")).text
    for s in (saved, lab):
        assert f'id="watch-{s.pk}"' in page


def test_watching_through_htmx_swaps_the_control_with_its_new_state(client):
    saved = SavedSearchFactory()
    client.force_login(saved.owner)
    url = reverse("watches:watch", args=[saved.pk])
    answer = client.post(url, {"frequency": "weekly"}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and "watching" in answer.text
    assert answer.text.lstrip().startswith(f'<form id="watch-{saved.pk}"')
    assert Watch.objects.get(user=saved.owner, saved_search=saved).frequency == "weekly"
    client.post(url, {"frequency": "off"}, HTTP_HX_REQUEST="true")
    assert not Watch.objects.exists()


def test_a_refused_watch_says_why_with_a_422(client):
    saved = SavedSearchFactory()
    client.force_login(saved.owner)
    url = reverse("watches:watch", args=[saved.pk])
    answer = client.post(url, {"frequency": "hourly"}, HTTP_HX_REQUEST="true")
    assert (
        answer.status_code == 422 and "Frequency: &#x27;hourly&#x27; is not one of" in answer.text
    )
    stranger = UserFactory()
    client.force_login(stranger)
    answer = client.post(url, {"frequency": "daily"}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 422 and "lab-wide ones" in answer.text
    assert not Watch.objects.exists()


def test_the_watches_page_says_when_a_search_is_no_longer_shared(client):
    saved = SavedSearchFactory(visibility=SavedSearch.Visibility.LAB, name="Lab band 6")
    watcher = UserFactory()
    services.watch(user=watcher, saved=saved, frequency="daily")
    saved.visibility = SavedSearch.Visibility.PRIVATE
    saved.save()
    client.force_login(watcher)
    page = client.get(reverse("watches:list")).text
    assert "Lab band 6" in page and "no longer shared with you" in page


def test_whats_new_lists_the_members_matches_per_search_and_kind(client, band6):
    saved = SavedSearchFactory(name="Band 6 things")
    services.watch(user=saved.owner, saved=saved, frequency="weekly")
    record(band6[0], ChangeKind.RELEASED, old=datetime(2027, 1, 1, tzinfo=UTC))
    services.evaluate_watches()
    client.force_login(saved.owner)
    page = client.get(reverse("watches:whats-new")).text
    assert "Band 6 things" in page and "Became public" in page
    assert band6[0].member_ous_uid in page and band6[1].member_ous_uid not in page
    other = UserFactory()
    client.force_login(other)
    assert band6[0].member_ous_uid not in client.get(reverse("watches:whats-new")).text
