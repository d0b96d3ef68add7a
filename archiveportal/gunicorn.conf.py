"""Gunicorn settings of the production web service, read by docker-compose's web service and by
``bench/bench_load.py`` (so the crowd is measured against what production runs).

Threads rather than more processes: a page spends part of its time waiting for PostgreSQL, and a
thread waiting costs no CPU, while every extra process costs its own memory and its own database
connections. The figures behind the defaults are in bench/README.md ("A crowd"); each value can
be set from the environment for a bigger machine (a rule of thumb: workers = cores, threads 4).
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
# Long downloads are handed to the front server; a page that takes a minute is stuck.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# A worker is replaced now and then, so a slow leak can never grow without bound.
max_requests = 5000
max_requests_jitter = 500
