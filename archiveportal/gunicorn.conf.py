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
# The connections one worker holds at once (gunicorn's default: 1,000). A kept-alive connection
# stays with the worker that accepted it, and the workers race to accept: 50 members' kept
# connections split ~32/18, and those on the fuller worker queued behind its four threads (the
# crowd's p95 393-605 ms over eight runs). At 25 a worker stops accepting when full, so the split
# is even (p95 352-386 ms over five runs, the same rate: bench/README.md, "A crowd"). Behind
# nginx (compose) that is ample: it keeps 16 idle upstream connections per nginx process and
# opens one more per request in flight; a connection beyond the limit waits in the listen
# backlog, as it would have waited in the worker's queue. Raise it when clients connect
# directly: each browser keeps up to six connections alive for ``keepalive`` seconds.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "25"))
# A worker is replaced now and then, so a slow leak can never grow without bound.
max_requests = 5000
max_requests_jitter = 500
