"""The basket: member OUSs kept across searches, added ticked or as a whole result, summed
over what the member may download now, and let go when a request takes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db.models import Q

from downloads import basket
from downloads.access import decide_many, downloadable_q, is_public
from downloads.models import AlmaIdentity, BasketItem, Delegation, DownloadRequest
from downloads.script import human_size
from queries.archive.sample import DEMO_PI_USERID, PROPRIETARY_CODE
from queries.fields import parse_form
from queries.filters import observation_filter
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

    assert (added, found.downloadable) == (1, 1) and basket.uids(member) == [mous.uid]


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


# --- "tick all results": the whole result's downloadable member OUSs, counted and sized ---

NGC1068 = {"ra_dec": "40.669629 -0.013281, 0.05"}  # public rows and the sealed demo project


def result_q(params: dict):
    return observation_filter(parse_form(params))


def expected_offer(user, params: dict) -> tuple[int, int, int]:
    """(downloadable, their files' bytes, withheld) computed member OUS by member OUS with the
    decider itself, not with the aggregate under test."""
    uids = set(
        Observation.objects.filter(result_q(params)).values_list("member_ous_uid", flat=True)
    )
    mouses = list(MemberOUS.objects.filter(uid__in=uids))
    decisions = decide_many(user, mouses, surface="test")
    allowed = [m for m in mouses if decisions[m.uid].allowed]
    size = sum(f.size or 0 for f in ArchiveFile.objects.filter(member_ous__in=allowed))
    return len(allowed), size, len(mouses) - len(allowed)


@pytest.fixture
def demo_pi():
    pi = UserFactory(username="demo-pi")
    AlmaIdentity.objects.create(user=pi, alma_userid=DEMO_PI_USERID)
    return pi


def test_tick_all_offers_every_downloadable_member_ous_of_the_result_with_their_size(sample):
    member = UserFactory()
    found = basket.offer(member, result_q(NGC1068))

    downloadable, size, withheld = expected_offer(member, NGC1068)
    assert downloadable > 1 and size > 0 and withheld >= 1  # the sample mixes both kinds
    assert (found.downloadable, found.downloadable_bytes, found.withheld) == (
        downloadable,
        size,
        withheld,
    )
    assert found.fits and found.already == 0


def test_a_proprietary_member_ous_of_someone_else_is_neither_counted_in_the_size_nor_added(
    sample, demo_pi
):
    member = UserFactory()
    sealed = sealed_mous()
    sealed_bytes = sum(f.size or 0 for f in ArchiveFile.objects.filter(member_ous=sealed))
    assert sealed_bytes > 0 and sealed.uid in set(
        Observation.objects.filter(result_q(NGC1068)).values_list("member_ous_uid", flat=True)
    )

    as_member, as_pi = (
        basket.offer(member, result_q(NGC1068)),
        basket.offer(demo_pi, result_q(NGC1068)),
    )
    assert as_pi.downloadable == as_member.downloadable + as_member.withheld - as_pi.withheld
    assert as_pi.downloadable_bytes - as_member.downloadable_bytes >= sealed_bytes

    added, _ = basket.add_result(member, result_q(NGC1068))
    assert added == as_member.downloadable
    assert sealed.uid not in basket.uids(member)
    basket.add_result(demo_pi, result_q(NGC1068))
    assert sealed.uid in basket.uids(demo_pi)  # its PI may have it


def test_tick_all_adds_all_or_none_within_the_basket_bound(sample, settings):
    member = UserFactory()
    downloadable, _, _ = expected_offer(member, NGC1068)
    settings.DOWNLOADS_BASKET_MAX = downloadable - 1

    assert not basket.offer(member, result_q(NGC1068)).fits
    with pytest.raises(basket.BasketFull, match=f"has room for {downloadable - 1}"):
        basket.add_result(member, result_q(NGC1068))
    assert basket.uids(member) == []

    settings.DOWNLOADS_BASKET_MAX = downloadable
    added, _ = basket.add_result(member, result_q(NGC1068))
    assert added == downloadable
    again = basket.offer(member, result_q(NGC1068))
    assert again.already == downloadable and again.fits  # nothing new to add: no room needed


def test_the_result_page_control_shows_count_size_and_withheld_then_fills_the_basket(
    client, sample
):
    member = UserFactory()
    client.force_login(member)
    downloadable, size, withheld = expected_offer(member, NGC1068)

    page = client.get("/aq/", NGC1068).content.decode()
    assert 'hx-get="/basket/offer/?ra_dec=' in page
    control = client.get("/basket/offer/", NGC1068).content.decode()
    assert f"Tick all {downloadable} member OUSs of the result ({human_size(size)})" in control
    assert f"{withheld} proprietary member OUS" in control
    for name in ArchiveFile.objects.filter(member_ous=sealed_mous()).values_list("name", flat=True):
        assert name not in control

    answer = client.post("/basket/add-result/", {**NGC1068, "next": "/aq/"}, follow=True)
    assert f"{downloadable} member OUSs added" in answer.content.decode()
    assert "proprietary member OUS" in answer.content.decode()
    assert len(basket.uids(member)) == downloadable


def test_tick_all_over_the_bound_says_so_and_adds_nothing(client, sample, settings):
    settings.DOWNLOADS_BASKET_MAX = 1
    member = UserFactory()
    client.force_login(member)

    control = client.get("/basket/offer/", NGC1068).content.decode()
    assert 'id="basket-offer-full"' in control and " disabled" in control
    answer = client.post("/basket/add-result/", {**NGC1068, "next": "/aq/"}, follow=True)
    assert "the basket holds at most 1" in answer.content.decode()
    assert basket.uids(member) == []


@pytest.mark.parametrize("role", ["pi", "delegate", "expired delegate", "member", "anonymous"])
def test_the_sql_form_of_the_access_rule_agrees_with_the_decider(sample, demo_pi, role):
    from django.contrib.auth.models import AnonymousUser

    users = {"pi": demo_pi, "member": UserFactory(), "anonymous": AnonymousUser()}
    if "delegate" in role:
        users[role] = UserFactory()
        Delegation.objects.create(
            pi=demo_pi,
            delegate=users[role],
            expires_at=datetime(2001, 1, 1, tzinfo=UTC) if role == "expired delegate" else None,
        )
    user = users[role]
    mouses = list(MemberOUS.objects.all())
    decisions = decide_many(user, mouses, surface="test")

    allowed = set(MemberOUS.objects.filter(downloadable_q(user)).values_list("uid", flat=True))

    assert allowed == {m.uid for m in mouses if decisions[m.uid].allowed}
    assert allowed != {m.uid for m in mouses}  # the sample holds data this role may not have
    assert (sealed_mous().uid in allowed) == (role in ("pi", "delegate"))
