"""A second Archive Portal serving the bundled sample over TAP: the upstream a harvest reads.

It is a real portal process (``manage.py runserver``) on a PostgreSQL database of its own (the
test database's name + ``_upstream``), migrated and loaded with ``load_sample`` as an operator
would, with TAP for members only: the harvester reaches it with a read-scoped token passed in
``ARCHIVE_TOKEN``. Tests change the upstream the way an archive changes, by writing its rows
(with a new ``lastModified``) through ``UpstreamPortal.execute``.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.portal_process import manage_in, start_runserver, stop

ROOT = Path(__file__).resolve().parents[2]
TOKEN_SCRIPT = (
    "from django.contrib.auth import get_user_model\n"
    "from apitokens.services import issue\n"
    "user = get_user_model().objects.create_user('harvester', email='h@example.org')\n"
    "print(issue(user=user, scopes=['read'], name='harvest')[1])\n"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class UpstreamPortal:
    url: str
    token: str
    conninfo: dict

    def execute(self, sql: str, params: tuple = ()) -> int:
        """Run SQL on the upstream's database (committed); returns the rows affected."""
        with psycopg.connect(**self.conninfo, autocommit=True) as conn:
            return conn.execute(sql, params).rowcount

    def fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(**self.conninfo) as conn:
            return conn.execute(sql, params).fetchall()


def conninfo(settings_dict: dict, dbname: str) -> dict:
    info = {"dbname": dbname, "user": settings_dict["USER"] or "postgres"}
    for key, name in (("HOST", "host"), ("PORT", "port"), ("PASSWORD", "password")):
        if settings_dict.get(key):
            info[name] = str(settings_dict[key])
    return info


def database_url(info: dict) -> str:
    auth = info["user"] + (f":{info['password']}" if info.get("password") else "")
    host = info.get("host", "127.0.0.1")
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgres://{auth}@{host}{port}/{info['dbname']}"


def start_upstream(settings_dict: dict, data_dir: Path):
    """Create, fill and serve the upstream portal; a generator yielding ``UpstreamPortal``."""
    dbname = f"{settings_dict['NAME']}_upstream"
    admin = conninfo(settings_dict, "postgres")
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    info = conninfo(settings_dict, dbname)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "ARCHIVE_TOKEN")
    }
    env.update(
        DATABASE_URL=database_url(info),  # the environment, never argv
        DATA_DIR=str(data_dir),
        SECRET_KEY="upstream-tests-only",
        DEBUG="1",
        VO_ANONYMOUS_METADATA="0",
        HARVEST_SCHEDULE_ENABLED="0",
    )

    manage = manage_in(env)

    manage("migrate", "--no-input", "-v", "0")
    manage("load_sample")
    token = manage("shell", "-c", TOKEN_SCRIPT).strip().splitlines()[-1]
    port = _free_port()
    server = start_runserver(env, port, "/tap/availability")
    url = f"http://127.0.0.1:{port}"
    try:
        yield UpstreamPortal(url=url, token=token, conninfo=info)
    finally:
        stop(server)
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
