"""The basket: member OUSs kept across searches, added ticked or as a whole result, summed
over what the member may download now, and let go when a request takes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db.models import Q

from downloads import basket
from downloads.access import is_public
from downloads.models import BasketItem, DownloadRequest
from queries.archive.sample import PROPRIETARY_CODE
from queries.models import ArchiveFile, MemberOUS, Observation
from tests.factories import MemberOUSFactory, ObservationFactory, UserFactory

pytestmark = pytest.mark.django_db


def sealed_mous() -> MemberOUS:
    """A member OUS of the sample's proprietary project that is not released yet."""
    return next(
        m for m in MemberOUS.objects.filter(project__code=PROPRIETARY_CODE) if not is_public(m)
    )


def test_adding_twice_keeps_one_of_each_and_says_what_was_new():
    member = UserFactory()
    a, b = MemberOUSFactory(), MemberOUSFactory()

    assert basket.add(member, [a.uid, b.uid]) == 2
    assert basket.add(member, [a.uid, "uid://nowhere/X0/X0"]) == 0
    assert basket.uids(member) == [a.uid, b.uid]
    assert basket.uids(UserFactory()) == []  # a basket is its member's


def test_a_whole_result_adds_each_of_its_member_ouss_once():
    member = UserFactory()
    mous = MemberOUSFactory()
    ObservationFactory.create_batch(3, member_ous=mous, band_list="6")
    ObservationFactory(band_list="3")

    added, found = basket.add_result(member, Q(band_mask=1 << 6))

    assert (added, found) == (1, 1) and basket.uids(member) == [mous.uid]


def test_the_basket_is_bounded_by_its_setting(settings):
    settings.DOWNLOADS_BASKET_MAX = 2
    member = UserFactory()
    assert basket.add(member, [MemberOUSFactory().uid for _ in range(3)]) == 2


def test_the_size_counts_only_what_the_member_may_download_now(sample):
    member = UserFactory()
    public = next(
        m for m in MemberOUS.objects.filter(files__isnull=False).distinct() if is_public(m)
    )
    sealed = sealed_mous()
    basket.add(member, [public.uid, sealed.uid])

    held = basket.summary(member)

    public_bytes = sum(f.size or 0 for f in ArchiveFile.objects.filter(member_ous=public))
    assert (held.mous_count, held.downloadable, held.downloadable_bytes) == (2, 1, public_bytes)


def test_the_basket_page_names_no_file_of_a_proprietary_member_ous(client, sample):
    member = UserFactory()
    sealed = sealed_mous()
    basket.add(member, [sealed.uid])
    client.force_login(member)

    page = client.get("/basket/").content.decode()

    assert sealed.uid in page and "proprietary" in page
    for name in ArchiveFile.objects.filter(member_ous=sealed).values_list("name", flat=True):
        assert name not in page


def test_a_request_made_from_the_basket_takes_its_member_ouss_and_empties_it(client, sample):
    member = UserFactory()
    chosen = list(Observation.objects.values_list("member_ous_uid", flat=True).distinct()[:2])
    basket.add(member, chosen)
    client.force_login(member)

    form = client.get("/requests/new/", {"basket": "1"}).content.decode()
    assert all(uid in form for uid in chosen) and 'name="basket" value="1"' in form
    key = form.split('name="idempotency_key" value="')[1].split('"')[0]
    answer = client.post(
        "/requests/new/",
        {
            "mous": chosen,
            "basket": "1",
            "idempotency_key": key,
            "classes": "1",
            "category": ["readme"],
            "layout": "tree",
        },
    )

    assert answer.status_code == 302
    made = DownloadRequest.objects.get(owner=member)
    assert set(made.member_ous_uids) == set(chosen)
    assert not BasketItem.objects.filter(user=member).exists()


def test_adding_the_ticked_rows_by_htmx_answers_with_the_basket_sentence(client, sample):
    member = UserFactory()
    client.force_login(member)
    uid = Observation.objects.values_list("member_ous_uid", flat=True)[0]

    answer = client.post("/basket/add/", {"mous": [uid]}, HTTP_HX_REQUEST="true")

    assert answer.status_code == 200
    assert "1 member OUS added; the basket holds 1" in answer.content.decode()


def test_a_whole_result_with_a_wrong_field_is_refused_with_its_message(client, db):
    client.force_login(UserFactory())
    answer = client.post("/basket/add-result/", {"ra_dec": "400 100"}, follow=True)
    assert "RA Dec" in answer.content.decode()
    assert not BasketItem.objects.exists()


def test_release_dates_are_read_from_the_member_ous_not_cached(sample):
    member = UserFactory()
    sealed = sealed_mous()
    basket.add(member, [sealed.uid])
    assert basket.summary(member).downloadable == 0
    MemberOUS.objects.filter(pk=sealed.pk).update(release_date=datetime(2001, 1, 1, tzinfo=UTC))
    assert basket.summary(member).downloadable == 1
