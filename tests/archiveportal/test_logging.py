"""File names, which may be proprietary, never reach the logs."""

import logging

import pytest

from archiveportal.logfilters import HideFileNames


def test_data_portal_paths_are_cut_from_log_records():
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Forbidden: %s",
        ("/dataPortal/2099.1.99901.S_uid___A001_X_001_of_001.tar",),
        None,
    )
    HideFileNames().filter(record)
    assert record.getMessage() == "Forbidden: /dataPortal/<file>"


def test_other_records_are_untouched():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "claimed %s", ("abc",), None)
    HideFileNames().filter(record)
    assert record.getMessage() == "claimed abc"


# --- Real log output, through the configured handlers, in every mode --------------------------

SECRET_NAME = "2099.1.99901.S_uid___A001_Xsecret_X1_001_of_001.tar"

# Runs with the production settings module in a fresh interpreter, so Django's own logging
# set-up (DEFAULT_LOGGING, then LOGGING) is exactly what a deployment gets. It requests the
# file anonymously and as a logged-in member (Django's request logger writes "Unauthorized:" and
# "Not Found:" lines), logs what runserver and a 500 would, and prints every admin email.
_SCRIPT = r"""
import logging, sys
import django
from django.test.utils import setup_test_environment
setup_test_environment()  # locmem mail, so admin emails can be read back
django.setup()
# Every handler that exists once Django has started, whoever added it, carries the filter;
# and the loggers that
# log request paths filter before any handler.
from archiveportal.logfilters import HideFileNames
for logger_name in ["", *logging.root.manager.loggerDict]:
    logger = logging.getLogger(logger_name)
    if not isinstance(logger, logging.Logger):
        continue
    for handler in logger.handlers:
        if not isinstance(handler, logging.NullHandler) and not any(
            isinstance(f, HideFileNames) for f in handler.filters
        ):
            print("UNFILTERED", repr(logger_name), handler)
for logger_name in ("django.request", "django.server", "django.security.csrf"):
    if not any(isinstance(f, HideFileNames) for f in logging.getLogger(logger_name).filters):
        print("UNFILTERED", logger_name)
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.test import Client, RequestFactory
settings.ADMINS = [("Ops", "ops@example.org")]
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
name = sys.argv[1]
user = get_user_model().objects.create_user("member", password="x")
Client().get(f"/dataPortal/{name}")
member = Client()
member.force_login(user)
member.get(f"/dataPortal/{name}")
member.get(f"/dataPortal/{name}", HTTP_AUTHORIZATION="Token nonsense")
logging.getLogger("django.server").info('"GET /dataPortal/%s HTTP/1.1" 404 12', name)
request = RequestFactory().get(f"/dataPortal/{name}")
try:
    raise RuntimeError("boom")
except RuntimeError:
    logging.getLogger("django.request").error(
        "Internal Server Error: %s", request.path, exc_info=True,
        extra={"status_code": 500, "request": request},
    )
logging.getLogger("django.security.csrf").warning("Forbidden (CSRF): %s", request.path)
logging.getLogger("queries").warning("refused %s", f"/dataPortal/{name}")
logging.getLogger("astropy").warning("refused %s", f"/dataPortal/{name}")
# A handler added after start-up, without the filter: records are scrubbed as they are made.
late = logging.getLogger("added.later")
late.addHandler(logging.StreamHandler(sys.stdout))
late.warning("refused /dataPortal/%s", name)
for message in mail.outbox:
    print("MAIL", message.subject, message.body)
print("DONE")
"""


def _run_portal(tmp_path, *, debug: bool) -> str:
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="archiveportal.settings",
        DEBUG="1" if debug else "0",
        DATA_DIR=str(tmp_path),
        LOG_LEVEL="INFO",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, SECRET_NAME],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "DONE" in done.stdout, done.stderr
    return done.stdout + done.stderr


@pytest.mark.parametrize("debug", [True, False], ids=["DEBUG on", "DEBUG off"])
def test_no_handler_writes_a_refused_file_name_in_any_mode(tmp_path, debug):
    output = _run_portal(tmp_path, debug=debug)
    assert SECRET_NAME not in output
    assert "Xsecret" not in output
    assert "UNFILTERED" not in output
    # The lines are still there, with the name cut: the log keeps its use.
    assert "Not Found: /dataPortal/<file>" in output or not debug
    assert "/dataPortal/<file>" in output
    if not debug:
        assert "MAIL" in output  # the 500 reached the admins, without the name
