"""A target list searched by a real Celery worker over real Redis: rows resolved from the
resolver's cache, counted, and the unusable ones kept with their reasons."""

from __future__ import annotations

import pytest

from archiveportal.jobs import Phase
from targets import services
from targets.models import RowStatus
from tests.factories import ObservationFactory, ResolvedNameFactory, UserFactory
from tests.integration.waiting import wait_terminal

pytestmark = pytest.mark.integration


def test_the_worker_resolves_and_searches_every_row_and_explains_the_rest(live_worker, settings):
    settings.QUERIES_RESOLVER_ONLINE = False
    ResolvedNameFactory(name="NGC 1068", ra=40.669, dec=-0.0133)
    ResolvedNameFactory(name="Zorglub", ra=None, dec=None, found=False)
    ObservationFactory(s_ra=40.669, s_dec=-0.0133)
    ObservationFactory(s_ra=40.669, s_dec=-0.0133)
    ObservationFactory(s_ra=83.8221, s_dec=-5.3911)

    target_list = services.create_target_list(
        owner=UserFactory(),
        name="three good, two bad",
        data=b"NGC 1068, 1arcmin\n05:35:17.3 -05:23:28, 30arcsec\n10 10\nZorglub\n10 100\n",
    )
    target_list = wait_terminal(target_list)

    assert target_list.phase == Phase.DONE
    rows = list(target_list.rows.values_list("number", "status", "match_count"))
    assert rows == [
        (1, RowStatus.SEARCHED, 2),
        (2, RowStatus.SEARCHED, 1),
        (3, RowStatus.SEARCHED, 0),
        (4, RowStatus.UNRESOLVED, None),
        (5, RowStatus.INVALID, None),
    ]
    reasons = list(target_list.rows.exclude(reason="").values_list("reason", flat=True))
    assert reasons[0].startswith("Line 4: 'Zorglub' is not known to the name resolver")
    assert reasons[1].startswith("Line 5: '10 100' is outside the sky")


def test_a_list_the_worker_already_finished_is_not_searched_again(live_worker, settings):
    settings.QUERIES_RESOLVER_ONLINE = False
    target_list = services.create_target_list(owner=UserFactory(), name="once", data=b"1 1\n")
    target_list = wait_terminal(target_list)
    row = target_list.rows.get()
    row.match_count = 99  # a second run would recount it
    row.save()
    services.search_targets(str(target_list.pk))  # a duplicate delivery: nothing to claim
    row.refresh_from_db()
    assert row.match_count == 99
