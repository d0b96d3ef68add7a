"""The Celery application; configuration comes from Django settings under ``CELERY_``.

Exactly one beat: every beat process takes the beat lock before it schedules anything and exits
(status 1, with a message) if another beat holds it. With a Redis broker the lock is a Redis key
that expires after ``JOBS_BEAT_LOCK_SECONDS`` and that the holder renews every third of that, so
a beat that is killed frees it within one period, whatever host it ran on (a starting beat
waits that long for it before giving up, so a restarted beat takes over from a killed one); with
the embedded filesystem broker it is an ``flock`` on ``JOBS_BEAT_LOCK_FILE``, released by the
kernel when the process dies. A Redis outage does not stop the holder: it takes the key back
when Redis returns, unless another beat took it first, in which case it exits.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import uuid

import redis
from celery import Celery
from celery.signals import beat_init
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archiveportal.settings")

app = Celery("archiveportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

log = logging.getLogger(__name__)
BEAT_LOCK_KEY = "archiveportal:beat-lock"
_held: list[object] = []  # keeps the lock's file or thread alive for the process's life


class BeatLockHeld(SystemExit):
    """Another beat is running: this one must not start (SystemExit passes Celery's signals)."""


def take_beat_lock() -> None:
    """Take the one beat lock for this process, or raise ``BeatLockHeld``."""
    url = app.conf.broker_url or ""
    if url.startswith(("redis://", "rediss://")):
        _take_redis_lock(url, settings.JOBS_BEAT_LOCK_SECONDS)
    else:
        _take_file_lock(settings.JOBS_BEAT_LOCK_FILE)


def _take_file_lock(path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # held open (and locked) until the process exits
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise BeatLockHeld(f"another celery beat holds {path}; this one exits") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    _held.append(handle)


# Extend the key only while it is still ours; take it back if it vanished (Redis restarted).
_RENEW = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 2
end
return 0
"""


def _take_redis_lock(url: str, seconds: int) -> None:
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    token = f"{os.getpid()}-{uuid.uuid4()}"
    # Wait one lock period: a beat restarted right after its predecessor was killed takes over
    # once the dead one's key expires; a live holder renews it, and then this beat gives up.
    deadline = time.monotonic() + seconds + 1
    while not client.set(BEAT_LOCK_KEY, token, nx=True, ex=seconds):
        if time.monotonic() > deadline:
            raise BeatLockHeld("another celery beat holds the beat lock in Redis; this one exits")
        time.sleep(0.5)
    renew = client.register_script(_RENEW)

    def keep() -> None:
        while True:
            threading.Event().wait(max(1.0, seconds / 3))
            try:
                held = renew(keys=[BEAT_LOCK_KEY], args=[token, seconds])
            except Exception:
                log.warning("beat lock: Redis unreachable; keeping the lock and retrying")
                continue
            if not held:
                log.error("beat lock taken by another beat; this beat exits")
                os._exit(1)

    thread = threading.Thread(target=keep, name="beat-lock", daemon=True)
    thread.start()
    _held.append(thread)


@beat_init.connect
def _one_beat_only(sender=None, **kwargs) -> None:
    take_beat_lock()
    log.info("beat lock taken by pid %d", os.getpid())
