#!/usr/bin/env python
"""Download requests: preparation time for 50 member OUSs, and script throughput on loopback.

    .venv/bin/python bench/bench_downloads.py            # uses the ap_bench database
    .venv/bin/python bench/bench_downloads.py --skip-prepare --runs 5   # the script only

(a) Creates a request for 50 released member OUSs of the synthetic archive (bench/bench_mirror.py
loads it) and times ``downloads.services.prepare_request`` in-process (access decisions, file
resolution, RequestFile rows, the email to the locmem backend). (b) Serves N files of M MB from a
temporary directory on 127.0.0.1 and times the rendered ``downloadRequest<ID>.sh --parallel 5``
(which also verifies every sha256) against plain ``xargs -P5 curl -O`` of the same URLs, in
pairs, for 483 files of 64 KB and 20 files of 20 MB; the target is a ratio of at most 1.15.
Everything stays on loopback, and it cleans up its files and its request.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import shutil
import statistics
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

    from downloads import services
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
        services.prepare_request(str(request.pk))
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


def bench_throughput(n_files: int, size: int, runs: int) -> None:
    """The rendered script against plain ``xargs -P5 curl`` on the same files, alternating,
    ``runs`` times each; medians and the ratio printed next to the target (within 15 %)."""
    from downloads.script import ScriptFile, render_script

    with tempfile.TemporaryDirectory() as tmp:
        served = Path(tmp) / "served"
        served.mkdir()
        files = []
        for i in range(n_files):
            path = served / f"bench_{i:03d}.tar"
            with path.open("wb") as handle:
                left = size
                while left > 0:
                    chunk = os.urandom(min(left, 1024 * 1024))
                    handle.write(chunk)
                    left -= len(chunk)
            files.append(path)
        handler = functools.partial(QuietHandler, directory=str(served))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        script_s, curl_s = [], []
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
            text = render_script(request_id="bench", files=script_files, portal_url=base)
            urls = "\n".join(f.url for f in script_files) + "\n"
            for run in range(runs):
                work_a, work_b = Path(tmp) / f"script{run}", Path(tmp) / f"curl{run}"
                work_a.mkdir()
                work_b.mkdir()
                script = work_a / "downloadRequestbench.sh"
                script.write_text(text)
                started = time.perf_counter()
                done = subprocess.run(
                    ["bash", str(script), "--parallel", "5"],
                    cwd=work_a,
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
                script_s.append(time.perf_counter() - started)
                assert done.returncode == 0, done.stdout + done.stderr
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
                curl_s.append(time.perf_counter() - started)
                shutil.rmtree(work_a)
                shutil.rmtree(work_b)
        finally:
            server.shutdown()
            server.server_close()
        ratios = sorted(a / b for a, b in zip(script_s, curl_s, strict=True))
        script_med, curl_med = statistics.median(script_s), statistics.median(curl_s)
        total_mb = n_files * size / 1e6
        ratio = statistics.median(ratios)
        print(
            f"(b) {n_files} files x {size / 1e6:g} MB on loopback, median of {runs}: script "
            f"(resume-capable, sha256-verified) {script_med:.2f} s = "
            f"{script_med / n_files * 1000:.1f} ms a file, {total_mb / script_med:.0f} MB/s; "
            f"plain xargs -P5 curl {curl_med:.2f} s = {curl_med / n_files * 1000:.1f} ms a file, "
            f"{total_mb / curl_med:.0f} MB/s; ratio {ratio:.2f} (target <= 1.15: "
            f"{'met' if ratio <= 1.15 else 'NOT met'})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5, help="script/curl pairs per case")
    parser.add_argument("--skip-prepare", action="store_true", help="only the script cases")
    args = parser.parse_args()
    sys.path.insert(0, str(django_setup.ROOT))
    if not args.skip_prepare:
        setup(args.database_url)
        bench_prepare(args.repeats)
    bench_throughput(483, 64 * 1024, args.runs)  # the audit's "483 small files"
    bench_throughput(20, 20 * 1024 * 1024, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
