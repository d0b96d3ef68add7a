"""Browser tests share one sample archive per test (transactional: the live server sees it)."""

import pytest
from django.core.management import call_command


@pytest.fixture
def sample_archive(transactional_db, settings, tmp_path):
    settings.LAB_DATA_ROOT = tmp_path / "labdata"
    call_command("load_sample")
