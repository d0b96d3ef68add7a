"""Migration harvest.0003 drops journal indexes nobody reads; a first load killed before it
still holds their definitions on its run, and must not build them again when resumed."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from harvest.models import HarvestRun

pytestmark = pytest.mark.django_db

migration = importlib.import_module("harvest.migrations.0003_journal_indexes")


def test_a_killed_first_load_forgets_the_dropped_journal_indexes_and_keeps_the_rest():
    kept = [
        "CREATE INDEX obs_asdm_uid ON public.queries_observation USING btree (asdm_uid)",
        "CREATE INDEX change_member_ous_uid ON public.harvest_observationchange USING btree "
        "(member_ous_uid)",
    ]
    dropped = [
        f"CREATE INDEX {name} ON public.harvest_observationchange USING btree (x)"
        for name in migration.DROPPED
    ]
    run = HarvestRun.objects.create(
        archive_url="http://upstream.invalid", deferred_indexes=[*dropped[:3], *kept, *dropped[3:]]
    )
    untouched = HarvestRun.objects.create(archive_url="http://upstream.invalid")

    migration.forget_dropped(apps, None)

    run.refresh_from_db()
    untouched.refresh_from_db()
    assert run.deferred_indexes == kept
    assert untouched.deferred_indexes == []
