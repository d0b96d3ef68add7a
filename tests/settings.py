"""Test settings: the production settings module, with a throw-away secret key.

Everything else (database, broker, mail) comes from the environment exactly as in production,
so the tests run against the real PostgreSQL and Redis that ``make test`` points them at.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")

from archiveportal.settings import *  # noqa: F403

# Hashing passwords slowly buys nothing in tests.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Static files come from the finders (no collectstatic run in tests); whitenoise serves them to
# the browser tests' live server.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# A second database on SQLite, the embedded mode's engine: the TAP tests run every ADQL statement
# on both (pytest-django creates it only for tests that ask for it).
DATABASES = {
    **DATABASES,  # noqa: F405
    # A file, not ":memory:": Django shares an in-memory database's one connection with the live
    # server's threads, which then trip over it on every request.
    "sqlite": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "tests-tap.sqlite3"),  # noqa: F405
        "TEST": {"NAME": str(DATA_DIR / "test-tap.sqlite3")},  # noqa: F405
    },
}
