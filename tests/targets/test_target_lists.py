"""Target lists end to end in one process: upload, the worker's per-row status, the merged
search over the sample archive with its ``target`` column (raw, project, CSV, VOTable), who may
use a list, and a saved, watched search that names one. Names come from the resolver's own
cache (``ResolvedName``), never from Sesame."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from harvest.models import ChangeKind
from queries.fields import parse_form
from queries.filters import observation_filter
from queries.models import Observation, SavedSearch
from queries.units import unit_vector
from targets import services
from targets.models import RowStatus, TargetList, TargetMatch
from targets.selectors import mirror_stamp
from tests.factories import (
    ObservationFactory,
    ResolvedNameFactory,
    SavedSearchFactory,
    TargetListFactory,
    TargetRowFactory,
    UserFactory,
    token_for,
)
from tests.watches.conftest import record
from watches import services as watches
from watches.models import Frequency, WatchMatch

pytestmark = pytest.mark.django_db

M83 = "204.25 -29.87, 0.05"
ANTENNAE = "180.48 -18.88, 0.05"
UPLOAD = (
    "# lab targets\n"
    "M83, 0.05deg\n"  # a name, resolved from the cache
    f"{ANTENNAE}\n"  # a position
    "Zorglub\n"  # the cache says Sesame does not know it
    "12:00:00 -95:00:00\n"  # outside the sky
)


@pytest.fixture
def offline(settings):
    settings.QUERIES_RESOLVER_ONLINE = False  # a name missing from the cache must not go out
    ResolvedNameFactory(name="M83", ra=204.2538, dec=-29.8658)
    ResolvedNameFactory(name="Zorglub", ra=None, dec=None, found=False)


@pytest.fixture
def owner(client):
    user = UserFactory(username="target-owner")
    client.force_login(user)
    return user


def searched(owner, text: str = UPLOAD) -> TargetList:
    """A list uploaded and searched by the worker's own code (the live worker: test_worker)."""
    target_list = services.create_target_list(owner=owner, name="lab", data=text.encode())
    services.search_targets(str(target_list.pk))
    target_list.refresh_from_db()
    return target_list


def ids(**params) -> set[str]:
    q = observation_filter(parse_form(params))
    return set(Observation.objects.filter(q).values_list("obs_id", flat=True))


def page_rows(html: str) -> dict[str, str]:
    """obs_id -> the text of its target cell, for each row of a raw result page."""
    return dict(re.findall(r'<tr data-obs="([^"]+)">.*?<td class="target">([^<]*)</td>', html))


def test_every_row_gets_a_status_and_every_unusable_one_its_reason(sample, offline, owner):
    target_list = searched(owner)
    assert target_list.phase == "done"
    rows = {row.number: row for row in target_list.rows.all()}
    assert sorted(rows) == [2, 3, 4, 5]  # the comment line is not a target
    assert rows[2].status == RowStatus.SEARCHED
    assert (rows[2].ra, rows[2].dec, rows[2].radius) == (204.2538, -29.8658, 0.05)
    assert rows[2].match_count == len(ids(ra_dec="204.2538 -29.8658, 0.05")) > 0
    assert rows[3].status == RowStatus.SEARCHED
    assert rows[3].match_count == len(ids(ra_dec=ANTENNAE)) > 0
    assert rows[4].status == RowStatus.UNRESOLVED
    assert rows[4].reason.startswith("Line 4: 'Zorglub' is not known to the name resolver")
    assert rows[5].status == RowStatus.INVALID
    assert "Line 5:" in rows[5].reason and "outside the sky" in rows[5].reason


def test_the_list_page_shows_each_rows_status_and_stops_polling_when_done(
    client, sample, offline, owner
):
    response = client.post("/targets/", {"name": "lab", "text": UPLOAD})
    target_list = TargetList.objects.get(owner=owner)
    assert response.status_code == 302
    assert response["Location"] == f"/targets/{target_list.pk}/"
    running = client.get(f"/targets/{target_list.pk}/", HTTP_HX_REQUEST="true")
    assert running.status_code == 200
    assert 'hx-trigger="every 2s"' in running.text
    assert "4 waiting" not in running.text and "3 waiting" in running.text  # 1 was invalid

    services.search_targets(str(target_list.pk))
    done = client.get(f"/targets/{target_list.pk}/", HTTP_HX_REQUEST="true")
    assert done.status_code == 286  # htmx stops polling
    assert 'id="target_status"' in done.text and "hx-trigger" not in done.text
    assert re.findall(r'<tr data-status="(\w+)">', done.text) == [
        "searched",
        "searched",
        "unresolved",
        "invalid",
    ]
    assert "Zorglub" in done.text and "outside the sky" in done.text
    assert f"/aq/?target_list={target_list.pk}" in done.text


def test_an_upload_that_is_not_a_list_is_refused_with_the_reason(client, owner, settings):
    settings.TARGETS_MAX_ROWS = 3
    too_many = client.post("/targets/", {"text": "M83\nM82\nM81\nM80\n"})
    assert too_many.status_code == 422
    assert "4 targets; a list holds at most 3" in too_many.text
    binary = io.BytesIO(b"PK\x03\x04\x00\x00\x00")
    binary.name = "targets.xlsx"
    refused = client.post("/targets/", {"file": binary})
    assert refused.status_code == 422
    assert "not a text file" in refused.text
    assert not TargetList.objects.exists()


def test_the_merged_search_is_the_union_of_the_rows_cones_each_row_labelled(
    client, sample, offline, owner, settings
):
    settings.QUERIES_PAGE_SIZE = 500
    target_list = searched(owner)
    expected_m83 = ids(ra_dec="204.2538 -29.8658, 0.05")
    expected_antennae = ids(ra_dec=ANTENNAE)
    assert ids(target_list=str(target_list.pk)) == expected_m83 | expected_antennae

    page = client.get("/aq/", {"target_list": str(target_list.pk)})
    assert page.status_code == 200
    assert '<th scope="col">Target</th>' in page.text
    labels = page_rows(page.text)
    assert set(labels) == expected_m83 | expected_antennae
    for obs_id, label in labels.items():
        want = [n for n, s in (("M83", expected_m83), (ANTENNAE, expected_antennae)) if obs_id in s]
        assert label == "; ".join(want)


def test_a_row_in_several_targets_cones_lists_them_all(client, sample, owner, settings):
    settings.QUERIES_PAGE_SIZE = 500
    target_list = TargetListFactory(owner=owner)
    TargetRowFactory(target_list=target_list, label="wide", ra=204.25, dec=-29.87, radius=0.2)
    TargetRowFactory(target_list=target_list, label="narrow", ra=204.25, dec=-29.87, radius=0.01)
    labels = page_rows(client.get("/aq/", {"target_list": str(target_list.pk)}).text)
    narrow = ids(ra_dec="204.25 -29.87, 0.01")
    assert narrow and set(labels) == ids(ra_dec="204.25 -29.87, 0.2")
    assert {o for o, label in labels.items() if label == "wide; narrow"} == narrow
    assert {label for o, label in labels.items() if o not in narrow} == {"wide"}


def test_the_project_view_and_the_exports_carry_the_list(client, sample, offline, owner):
    target_list = searched(owner)
    expected = ids(ra_dec="204.2538 -29.8658, 0.05") | ids(ra_dec=ANTENNAE)
    codes = set(
        Observation.objects.filter(obs_id__in=expected).values_list("proposal_id", flat=True)
    )
    projects = client.get("/aq/", {"target_list": str(target_list.pk), "result_view": "project"})
    assert projects.status_code == 200
    assert set(re.findall(r'name="project" value="([^"]+)"', projects.text)) == codes

    exported = client.get("/aq/", {"target_list": str(target_list.pk), "format": "csv"})
    table = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert list(table[0])[-1] == "target"
    assert {row["obs_id"] for row in table} == expected
    assert {row["target"] for row in table} == {"M83", ANTENNAE}

    votable = client.get("/aq/", {"target_list": str(target_list.pk), "format": "votable"})
    body = b"".join(votable.streaming_content).decode()
    assert '<FIELD name="target" datatype="char"' in body
    assert body.count("<TR>") == len(expected)


def test_another_members_list_is_refused_everywhere_and_never_shown(client, sample, owner):
    target_list = TargetListFactory(owner=owner)
    TargetRowFactory(target_list=target_list, label="SECRET-TARGET", ra=204.25, dec=-29.87)
    other = UserFactory(username="someone-else")
    client.force_login(other)

    page = client.get("/aq/", {"target_list": str(target_list.pk)})
    assert "is not one of your target lists, nor one shared with the lab" in page.text
    assert "SECRET-TARGET" not in page.text and "<tr data-obs" not in page.text
    detail = client.get(f"/targets/{target_list.pk}/")
    assert detail.status_code == 403
    assert "SECRET-TARGET" not in detail.text
    unknown = client.get("/aq/", {"target_list": "00000000-0000-0000-0000-000000000000"})
    assert "is not one of your target lists, nor one shared with the lab" in unknown.text
    api = client.get(
        "/api/observations/",
        {"target_list": str(target_list.pk)},
        HTTP_AUTHORIZATION=f"Token {token_for(other, 'read')}",
    )
    assert api.status_code == 400
    assert "not one of your target lists" in api.text
    csv_export = client.get("/aq/", {"target_list": str(target_list.pk), "format": "csv"})
    assert "SECRET-TARGET" not in csv_export.text

    # Its owner sharing a lab-wide saved search that names the list shares the list.
    SavedSearchFactory(owner=owner, visibility="lab", params={"target_list": str(target_list.pk)})
    shared = client.get("/aq/", {"target_list": str(target_list.pk)})
    assert "SECRET-TARGET" in shared.text
    assert client.get(f"/targets/{target_list.pk}/").status_code == 200


def test_a_list_still_being_searched_says_how_far_it_is(client, owner):
    target_list = TargetListFactory(owner=owner, phase="running")
    TargetRowFactory(target_list=target_list)
    TargetRowFactory(target_list=target_list, status="pending", ra=None, dec=None)
    page = client.get("/aq/", {"target_list": str(target_list.pk)})
    assert "is still being searched (1 of 2 targets done)" in page.text


def test_a_saved_search_with_a_list_is_watched_like_any_other(client, sample, owner):
    target_list = TargetListFactory(owner=owner)
    TargetRowFactory(target_list=target_list, label="M83", ra=204.25, dec=-29.87, radius=0.05)
    response = client.post(
        "/saved/new/",
        {"name": "M83 list", "query": f"target_list={target_list.pk}", "visibility": "private"},
    )
    assert response.status_code == 302
    saved = SavedSearch.objects.get(owner=owner, name="M83 list")
    assert saved.params == {"target_list": str(target_list.pk)}
    watches.watch(user=owner, saved=saved, frequency=Frequency.DAILY)
    inside = Observation.objects.get(obs_id=sorted(ids(ra_dec="204.25 -29.87, 0.05"))[0])
    outside = Observation.objects.exclude(obs_id__in=ids(ra_dec="204.25 -29.87, 0.05")).first()
    wanted = record(inside, ChangeKind.NEW)
    record(outside, ChangeKind.NEW)
    assert watches.evaluate_watches(now=datetime(2026, 11, 30, 12, tzinfo=UTC)) == 1
    assert list(WatchMatch.objects.values_list("change", flat=True)) == [wanted.pk]


def _queries(client, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/aq/", params)
    assert page.status_code == 200
    return len(captured.captured_queries)


def test_the_result_page_of_a_list_runs_a_fixed_number_of_queries(client, sample, owner):
    """However long the list and however many rows match: the list, its cones, the mirror's
    stamp, the count of its stored matches and the shown rows' positions are one query each
    on top of the plain page's (once the list's matches are stored: the first search after a
    change of the mirror stores them)."""
    small, large = TargetListFactory(owner=owner), TargetListFactory(owner=owner)
    TargetRowFactory(target_list=small, ra=204.25, dec=-29.87)
    for i in range(40):
        TargetRowFactory(target_list=large, ra=180.0 + i, dec=-29.87 + i / 10, radius=0.5)
    TargetRowFactory(target_list=large, ra=40.669, dec=-0.0133, radius=0.1)
    client.get("/aq/", {"band_list": "3"})  # the session and the cached mirror facts
    plain = _queries(client, ra_dec="204.25 -29.87, 0.05")
    for target_list in (small, large):
        client.get("/aq/", {"target_list": str(target_list.pk)})  # stores its matches
    counts = {_queries(client, target_list=str(t.pk)) for t in (small, large)}
    assert counts == {plain + 5}, (plain, counts)


@pytest.mark.parametrize("text", ["12", "my list", "(((\x01"])
def test_a_target_list_parameter_that_is_no_id_is_refused_naming_the_field(text):
    from queries.errors import QueryInputErrors

    with pytest.raises(QueryInputErrors) as caught:
        parse_form({"target_list": text})
    error = caught.value.errors["target_list"]
    assert str(error).startswith("Target list: ")
    assert "the id of a target list that is yours or shared with the lab" in str(error)


def test_a_target_label_reaches_every_page_as_text(client, sample, owner):
    hostile = "<script>alert(1)</script>"
    target_list = TargetListFactory(owner=owner, name=hostile)
    TargetRowFactory(target_list=target_list, label=hostile, ra=204.25, dec=-29.87)
    for url, params in (
        ("/aq/", {"target_list": str(target_list.pk)}),
        (
            f"/targets/{target_list.pk}/",
            {},
        ),
    ):
        page = client.get(url, params).text
        assert hostile not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def project_cells(html: str) -> dict[str, str]:
    """project code -> the text of its target cell, for each row of a project view page."""
    return dict(
        re.findall(
            r'name="project" value="([^"]+)"[^>]*></td><td class="target">([^<]*)</td>', html
        )
    )


def expected_project_labels(targets: dict[str, str], **others) -> dict[str, str]:
    """code -> the sorted labels of the targets with a row in that project, computed cone by
    cone through the ordinary position search (not the target-list code)."""
    found: dict[str, set[str]] = {}
    for label, cone in targets.items():
        rows = ids(ra_dec=cone, **others)
        for code in Observation.objects.filter(obs_id__in=rows).values_list(
            "proposal_id", flat=True
        ):
            found.setdefault(code, set()).add(label)
    return {code: "; ".join(sorted(labels)) for code, labels in found.items()}


@pytest.mark.parametrize("others", [{}, {"band_list": "3"}], ids=["list alone", "with band 3"])
def test_the_project_view_names_the_targets_whose_rows_fall_in_each_project(
    client, sample, owner, others
):
    cones = CONES
    target_list = cone_list(owner, cones)
    expected = expected_project_labels(cones, **others)
    # The sample tells the cases apart: projects with different targets, and a band that
    # leaves some projects' rows out.
    assert len(set(expected_project_labels(cones).values())) > 1
    assert expected_project_labels(cones, band_list="3") != expected_project_labels(cones)

    page = client.get(
        "/aq/", {"target_list": str(target_list.pk), "result_view": "project", **others}
    )

    assert page.status_code == 200
    assert '<th scope="col">Target</th>' in page.text
    assert project_cells(page.text) == expected


def test_the_project_view_of_a_search_without_a_list_has_no_target_column(client, sample, owner):
    page = client.get("/aq/", {"band_list": "3", "result_view": "project"})
    assert 'name="project"' in page.text
    assert '<th scope="col">Target</th>' not in page.text and 'class="target"' not in page.text


def test_the_api_labels_each_row_with_the_targets_it_matched(client, sample, offline, owner):
    target_list = searched(owner)
    token = token_for(owner, "read")
    expected = {
        **dict.fromkeys(ids(ra_dec="204.2538 -29.8658, 0.05"), "M83"),
        **dict.fromkeys(ids(ra_dec=ANTENNAE), ANTENNAE),
    }

    answer = client.get(
        "/api/observations/",
        {"target_list": str(target_list.pk)},
        HTTP_AUTHORIZATION=f"Token {token}",
    ).json()

    assert answer["count"] == len(expected)
    assert {row["obs_id"]: row["target"] for row in answer["results"]} == {
        row["obs_id"]: expected[row["obs_id"]] for row in answer["results"]
    }
    plain = client.get(
        "/api/observations/", {"band_list": "3"}, HTTP_AUTHORIZATION=f"Token {token}"
    ).json()
    assert plain["results"] and all("target" not in row for row in plain["results"])


def test_the_worker_stores_the_lists_matches_and_a_changed_mirror_refreshes_them(
    sample, offline, owner
):
    target_list = searched(owner)
    expected = ids(ra_dec="204.2538 -29.8658, 0.05") | ids(ra_dec=ANTENNAE)
    stored = set(
        Observation.objects.filter(
            pk__in=TargetMatch.objects.filter(target_list=target_list).values("observation_id")
        ).values_list("obs_id", flat=True)
    )
    assert stored == expected and target_list.matched_stamp

    # A new observation in M83's cone: the next search over the list finds it.
    near = Observation.objects.get(obs_id=sorted(ids(ra_dec="204.2538 -29.8658, 0.05"))[0])
    ObservationFactory(
        obs_id="uid://A001/Xnew/X1.source.M83.spw.1", s_ra=near.s_ra, s_dec=near.s_dec
    )
    assert ids(target_list=str(target_list.pk)) == expected | {
        "uid://A001/Xnew/X1.source.M83.spw.1"
    }

    # A row the archive moved out of every cone, journalled by the harvest, leaves the result.
    x, y, z = unit_vector(10.0, 10.0)
    Observation.objects.filter(pk=near.pk).update(s_ra=10.0, s_dec=10.0, s_x=x, s_y=y, s_z=z)
    record(near, ChangeKind.CHANGED)
    assert near.obs_id not in ids(target_list=str(target_list.pk))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the change log's triggers")
def test_a_row_changed_in_place_without_a_journal_entry_refreshes_the_stored_matches(
    sample, offline, owner
):
    """A live search's upsert corrects a position without the harvest's journal: the mirror's
    change log still moves the stamp, so the list's stored matches follow."""
    target_list = searched(owner)
    moved = Observation.objects.get(obs_id=sorted(ids(ra_dec=ANTENNAE))[0])
    assert moved.obs_id in ids(target_list=str(target_list.pk))
    stamp = mirror_stamp()

    x, y, z = unit_vector(10.0, 10.0)
    Observation.objects.filter(pk=moved.pk).update(s_ra=10.0, s_dec=10.0, s_x=x, s_y=y, s_z=z)

    assert mirror_stamp() != stamp
    assert moved.obs_id not in ids(target_list=str(target_list.pk))
    target_list.refresh_from_db()
    assert target_list.matched_stamp == mirror_stamp()


def test_a_list_alone_is_counted_from_its_stored_matches_and_only_while_they_are_current(
    client, sample, offline, owner
):
    from queries.tables import known_count

    target_list = searched(owner)
    alone = parse_form({"target_list": str(target_list.pk)})
    expected = len(ids(target_list=str(target_list.pk)))

    assert known_count(alone) == expected
    assert (
        f'id="result-count">{expected} '
        in client.get("/aq/", {"target_list": str(target_list.pk)}).text
    )
    with_band = {"target_list": str(target_list.pk), "band_list": "3"}
    assert known_count(parse_form(with_band)) == len(ids(**with_band))
    # A field the stored matches cannot answer: counted through the mirror.
    with_text = {"target_list": str(target_list.pk), "source_name_alma": "M83*"}
    assert known_count(parse_form(with_text)) is None

    ObservationFactory(obs_id="uid://A001/Xnew/X2.source.M83.spw.1", s_ra=204.2538, s_dec=-29.8658)
    assert known_count(alone) is None  # the mirror moved: the filter refreshes, then counts
    page = client.get("/aq/", {"target_list": str(target_list.pk)}).text
    assert f'id="result-count">{expected + 1} ' in page


CONES = {"M83 wide": "204.25 -29.87, 0.2", "M83 core": "204.25 -29.87, 0.01", "Antennae": ANTENNAE}


def cone_list(owner, cones: dict[str, str] = CONES) -> TargetList:
    target_list = TargetListFactory(owner=owner)
    for number, (label, cone) in enumerate(cones.items(), start=1):
        position, radius = cone.split(", ")
        ra, dec = map(float, position.split())
        TargetRowFactory(
            target_list=target_list,
            number=number,
            label=label,
            ra=ra,
            dec=dec,
            radius=float(radius),
        )
    return target_list


def plain_cones_q(cones: dict[str, str] = CONES, **others):
    """The same search written as ordinary position searches, one per cone, ORed."""
    q = None
    for cone in cones.values():
        one = observation_filter(parse_form({"ra_dec": cone, **others}))
        q = one if q is None else q | one
    return q


NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "others",
    [{}, {"band_list": "3"}, {"band_list": "6|7"}, {"band_list": "!3"}],
    ids=["list alone", "with band 3", "with bands 6 or 7", "without band 3"],
)
@pytest.mark.parametrize("sort", ["code", "-code"])
def test_the_project_view_from_the_stored_matches_equals_the_plain_cone_searches(
    sample, owner, others, sort
):
    from queries.selectors import projects_page
    from queries.tables import known_matches

    target_list = cone_list(owner)
    parsed = parse_form({"target_list": str(target_list.pk), **others})
    q = observation_filter(parsed)  # stores the list's matches
    known = known_matches(parsed)
    # "No row of band 3" is no test of a member OUS's union of bands: through the mirror.
    assert (known is None) == others.get("band_list", "").startswith("!")
    plain = plain_cones_q(**others)
    size = 2  # several pages, the last one short
    total = projects_page(plain, sort=sort, page=1, size=size, now=NOW)[1].total
    assert total > size
    for number in range(1, -(-total // size) + 2):  # and one past the end
        stored = projects_page(q, sort=sort, page=number, size=size, now=NOW, known=known)
        assert stored == projects_page(plain, sort=sort, page=number, size=size, now=NOW)


@pytest.mark.parametrize("others", [{"band_list": "3"}, {"band_list": "!3"}], ids=["3", "not 3"])
def test_a_list_with_a_band_is_counted_from_its_stored_matches_as_the_cones_count_it(
    client, sample, owner, others
):
    from queries.tables import known_count

    target_list = cone_list(owner)
    expected = set(
        Observation.objects.filter(plain_cones_q(**others)).values_list("obs_id", flat=True)
    )
    params = {"target_list": str(target_list.pk), **others}
    client.get("/aq/", params)  # stores the list's matches
    assert known_count(parse_form(params)) == len(expected) > 0
    page = client.get("/aq/", params).text
    assert f'id="result-count">{len(expected)} ' in page
    assert ids(**params) == expected


def test_matches_stored_before_their_rows_were_linked_are_not_read_for_projects(sample, owner):
    from queries.selectors import projects_page
    from queries.tables import known_matches

    target_list = cone_list(owner)
    unlinked = Observation.objects.filter(plain_cones_q()).order_by("obs_id").first()
    Observation.objects.filter(pk=unlinked.pk).update(project=None, member_ous=None)
    parsed = parse_form({"target_list": str(target_list.pk)})
    q = observation_filter(parsed)  # stores the matches, one of them unlinked
    assert known_matches(parsed) is None
    rows, _ = projects_page(q, sort="code", page=1, size=500, now=NOW)
    assert rows == projects_page(plain_cones_q(), sort="code", page=1, size=500, now=NOW)[0]
