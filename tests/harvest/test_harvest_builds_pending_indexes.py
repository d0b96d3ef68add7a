"""A harvest first builds what a bulk load killed after its commit left
(``queries.pending_indexes``): the nightly harvest is the bulk load that surely comes next."""

from __future__ import annotations

import pytest
from django.db import connection

from harvest import services
from queries import pending_indexes
from queries.models import PendingIndexes
from tests.queries.test_pending_indexes import _dropped_and_committed

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only"),
]


def test_a_harvest_builds_what_a_killed_load_left_before_its_pages(monkeypatch):
    record = _dropped_and_committed()
    pending_indexes.release(record)  # its load is gone
    seen: list[bool] = []

    def pages(run, **kwargs) -> None:
        seen.append(PendingIndexes.objects.exists())
        raise RuntimeError("upstream down")

    monkeypatch.setattr(services, "harvest_pages", pages)
    run = services.start_run(archive_url="http://127.0.0.1:9/tap")

    with pytest.raises(RuntimeError, match="upstream down"):
        services.execute(run)

    assert seen == [False]
