"""The IVOA's own validator, STILTS taplint (Debian's ``stilts``), against the live service.

taplint 3.4 cannot send a token, so the portal opens metadata to anonymous clients for this run
(``VO_ANONYMOUS_METADATA``), as the issue allows. Every stage runs, the async ones against the
live worker, except UPL (table upload, which the service does not offer or declare).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.integration


def test_taplint_finds_no_error(live_server, live_worker, settings, tmp_path):
    stilts = shutil.which("stilts")
    assert stilts, "Debian's stilts package is a test dependency (bin/test installs it)"
    settings.VO_ANONYMOUS_METADATA = True
    settings.LAB_DATA_ROOT = tmp_path / "labdata"
    settings.VO_TAP_RESULTS_DIR = tmp_path / "tap-results"
    call_command("load_sample", verbosity=0)
    done = subprocess.run(
        [
            stilts,
            "taplint",
            f"tapurl={live_server.url}/tap",
            "stages=TMV TME TMS TMC CPV CAP AVV QGE QPO QAS UWS MDQ OBS EXA",
            "maxrepeat=3",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = done.stdout
    problems = [line for line in report.splitlines() if line[:2] in ("E-", "F-")]
    assert "Totals: Errors: 0;" in report, "\n".join(problems) or report[-3000:]
    assert "Failures: 0" in report, "\n".join(problems)
