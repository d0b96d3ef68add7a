#!/usr/bin/env python
"""Download requests: preparation time for 50 member OUSs, and script throughput on loopback.

    .venv/bin/python bench/bench_downloads.py            # uses the ap_bench database
    .venv/bin/python bench/bench_downloads.py --files 20 --mb 20

(a) Creates a request for 50 released member OUSs of the synthetic archive (bench/bench_mirror.py
loads it) and times ``downloads.requests.prepare_request`` in-process (access decisions, file
resolution, RequestFile rows, the email to the locmem backend). (b) Serves N files of M MB from a
temporary directory on 127.0.0.1 and times the rendered ``downloadRequest<ID>.sh --parallel 5``
(which also verifies every sha256) against plain ``xargs -P5 curl -O`` of the same URLs.
Everything stays on loopback, and it cleans up its files and its request.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import django_setup
from django_setup import DEFAULT_URL


def setup(database_url: str) -> None:
    django_setup.setup(database_url)
    from django.conf import settings

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def bench_prepare(repeats: int) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from downloads import requests
    from downloads.models import DownloadRequest
    from queries.models import MemberOUS

    user, _ = get_user_model().objects.get_or_create(
        username="bench-member", defaults={"email": "bench@lab.example.org"}
    )
    uids = list(
        MemberOUS.objects.filter(release_date__lt=timezone.now(), files__isnull=False)
        .values_list("uid", flat=True)
        .distinct()[:50]
    )
    timings, files = [], 0
    for _ in range(repeats):
        request = DownloadRequest.objects.create(
            owner=user,
            member_ous_uids=uids,
            categories=["product", "auxiliary", "readme", "raw"],
            submitted_at=timezone.now(),
        )
        started = time.perf_counter()
        requests.prepare_request(str(request.pk))
        timings.append((time.perf_counter() - started) * 1000)
        request.refresh_from_db()
        files = request.file_count
        request.delete()
    timings.sort()
    print(
        f"(a) prepare a request of {len(uids)} member OUSs ({files} files): "
        f"p50 {timings[len(timings) // 2]:.0f} ms, max {timings[-1]:.0f} ms "
        f"over {repeats} runs"
    )


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def bench_throughput(n_files: int, megabytes: int) -> None:
    from downloads.script import ScriptFile, render_script

    with tempfile.TemporaryDirectory() as tmp:
        served, work_a, work_b = (Path(tmp) / d for d in ("served", "script", "curl"))
        for d in (served, work_a, work_b):
            d.mkdir()
        files = []
        chunk = os.urandom(1024 * 1024)
        for i in range(n_files):
            path = served / f"bench_{i:03d}.tar"
            with path.open("wb") as handle:
                for _ in range(megabytes):
                    handle.write(chunk)
            files.append(path)
        handler = functools.partial(QuietHandler, directory=str(served))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            script_files = [
                ScriptFile(
                    f"{base}/{p.name}",
                    f"bench/{p.name}",
                    p.stat().st_size,
                    hashlib.sha256(p.read_bytes()).hexdigest(),
                    False,
                )
                for p in files
            ]
            script = work_a / "downloadRequestbench.sh"
            script.write_text(
                render_script(request_id="bench", files=script_files, portal_url=base)
            )
            total_mb = n_files * megabytes
            started = time.perf_counter()
            done = subprocess.run(
                ["bash", str(script), "--parallel", "5"],
                cwd=work_a,
                capture_output=True,
                text=True,
                timeout=600,
            )
            script_s = time.perf_counter() - started
            assert done.returncode == 0, done.stdout + done.stderr
            urls = "\n".join(f.url for f in script_files) + "\n"
            started = time.perf_counter()
            subprocess.run(
                "xargs -P5 -n1 curl -s -O",
                shell=True,
                input=urls,
                text=True,
                cwd=work_b,
                check=True,
                timeout=600,
            )
            curl_s = time.perf_counter() - started
        finally:
            server.shutdown()
            server.server_close()
        print(
            f"(b) {n_files} files x {megabytes} MB on loopback: script (resume-capable, "
            f"sha256-verified) {total_mb / script_s:.0f} MB/s in {script_s:.1f} s; "
            f"plain xargs -P5 curl {total_mb / curl_s:.0f} MB/s in {curl_s:.1f} s"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--mb", type=int, default=20)
    args = parser.parse_args()
    setup(args.database_url)
    bench_prepare(args.repeats)
    bench_throughput(args.files, args.mb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
