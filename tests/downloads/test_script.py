"""The rendered download script against a local file server: what it retries, what it refuses,
how it can be started, and that no secret ever reaches a file or a command line.

The server on loopback serves made-up bytes and can answer a path with a scripted sequence of
statuses, count requests, and trickle a body slowly so that a run can be interrupted mid-file.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from downloads.script import ScriptFile, render_script

TOKEN = "tok-3f9c2a41d6e8b0aa"


def body_of(name: str, size: int = 4096) -> bytes:
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


@dataclass
class FileServer:
    url: str = ""
    # path -> statuses to answer before the file itself (e.g. [503, 503] then 200)
    script: dict[str, list[int]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    slow: set[str] = field(default_factory=set)
    public: set[str] = field(default_factory=set)  # served without a token
    seen: Counter = field(default_factory=Counter)
    auth: list[str] = field(default_factory=list)

    def add(self, name: str, size: int = 4096) -> ScriptFile:
        self.sizes[name] = size
        data = body_of(name, size)
        return ScriptFile(
            f"{self.url}/dataPortal/{name}",
            f"proj/member/{name}",
            size,
            hashlib.sha256(data).hexdigest(),
            True,
            needs_token=True,
        )


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    state = FileServer()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            name = self.path.rsplit("/", 1)[-1]
            state.seen[name] += 1
            state.auth.append(self.headers.get("Authorization", ""))
            queue = state.script.get(name) or []
            if queue:
                status = queue.pop(0)
                body = f"scripted {status} for {name}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            token = self.headers.get("Authorization")
            if name not in state.public and token != f"Token {TOKEN}":
                body = b"Invalid token: make a new one under Data access > Personal API tokens."
                self.send_response(401)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if name not in state.sizes:
                self.send_response(404)
                self.send_header("Content-Length", "9")
                self.end_headers()
                self.wfile.write(b"not found")
                return
            data = body_of(name, state.sizes[name])
            start = 0
            if self.headers.get("Range", "").startswith("bytes="):
                start = int(self.headers["Range"][6:].split("-")[0] or 0)
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            if name in state.slow:
                for offset in range(start, len(data), 1024):
                    self.wfile.write(data[offset : offset + 1024])
                    self.wfile.flush()
                    time.sleep(0.05)
            else:
                self.wfile.write(data[start:])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def write_script(tmp_path: Path, files: list[ScriptFile], portal: str) -> Path:
    path = tmp_path / "downloadRequestt1.sh"
    path.write_text(render_script(request_id="t1", files=files, portal_url=portal))
    return path


def env_for(tmp_path: Path, token: str | None = TOKEN, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ARCHIVE_PORTAL_TOKEN"}
    temp = tmp_path / "tmpdir"
    temp.mkdir(exist_ok=True)
    env.update(HOME=str(tmp_path), TMPDIR=str(temp), ARCHIVE_PORTAL_RETRY_PAUSE="0", **extra)
    if token:
        env["ARCHIVE_PORTAL_TOKEN"] = token
    return env


def run(cmd: list[str] | str, cwd: Path, env: dict[str, str], **kwargs):
    return subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        shell=isinstance(cmd, str),
        stdin=kwargs.pop("stdin", subprocess.DEVNULL),
        **kwargs,
    )


def files_holding(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_a_wrong_token_stops_at_once_with_the_servers_reason(file_server, tmp_path):
    files = [file_server.add(f"f{i:02d}.tar") for i in range(15)]
    script = write_script(tmp_path, files, file_server.url)
    done = run(["bash", str(script)], tmp_path, env_for(tmp_path, token="wrong-token"))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "the server refused (HTTP 401): Invalid token" in done.stdout
    assert "again in" not in done.stdout  # no retry round, no pause
    # One request per file, and one more to read the server's reason.
    assert sum(file_server.seen.values()) <= len(files) + 1
    assert max(file_server.seen.values()) <= 2


def test_transient_errors_are_retried_until_the_file_arrives(file_server, tmp_path):
    flaky = file_server.add("flaky.tar")
    file_server.script["flaky.tar"] = [503, 502]
    script = write_script(tmp_path, [flaky, file_server.add("steady.tar")], file_server.url)
    done = run(["bash", str(script)], tmp_path, env_for(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert file_server.seen["flaky.tar"] == 3
    assert file_server.seen["steady.tar"] == 1
    assert "HTTP 503 (the server may recover)" in done.stdout
    assert (tmp_path / flaky.relative_path).read_bytes() == body_of("flaky.tar")


def test_after_the_last_attempt_it_gives_up_without_a_pause(file_server, tmp_path):
    down = file_server.add("down.tar")
    file_server.script["down.tar"] = [503] * 10
    script = write_script(tmp_path, [down], file_server.url)
    done = run(["bash", str(script)], tmp_path, env_for(tmp_path))
    assert done.returncode == 1
    assert file_server.seen["down.tar"] == 5
    assert done.stdout.count("again in") == 4  # a pause between attempts, none after the last
    assert "Giving up on 1 files after 5 attempts." in done.stdout


@pytest.mark.parametrize("status", [403, 404, 410])
def test_a_refusal_is_not_retried_and_is_explained(file_server, tmp_path, status):
    gone = file_server.add("gone.tar")
    file_server.script["gone.tar"] = [status, status]
    script = write_script(tmp_path, [gone], file_server.url)
    done = run(["bash", str(script)], tmp_path, env_for(tmp_path))
    assert done.returncode == 3
    assert f"the server refused (HTTP {status}): scripted {status} for gone.tar" in done.stdout
    assert file_server.seen["gone.tar"] == 2  # the transfer, then the reason


def test_a_directory_that_cannot_be_written_is_a_refusal(file_server, tmp_path):
    blocked = file_server.add("blocked.tar")
    (tmp_path / "proj").write_text("a file where the delivery tree's folder should be")
    script = write_script(tmp_path, [blocked], file_server.url)
    done = run(["bash", str(script)], tmp_path, env_for(tmp_path))
    assert done.returncode == 3
    assert "cannot write here" in done.stdout
    assert file_server.seen["blocked.tar"] <= 1


@pytest.mark.parametrize("size", [4096, 9 * 1024 * 1024])  # batch and hashing-pipeline paths
def test_a_corrupt_or_partial_file_is_fetched_again_on_both_paths(file_server, tmp_path, size):
    item = file_server.add("data.tar", size)
    script = write_script(tmp_path, [item], file_server.url)
    target = tmp_path / item.relative_path
    target.parent.mkdir(parents=True)
    target.write_bytes(body_of("data.tar", size)[: size // 3])
    assert run(["bash", str(script)], tmp_path, env_for(tmp_path)).returncode == 0
    assert target.read_bytes() == body_of("data.tar", size)
    target.write_bytes(b"\0" * size)
    again = run(["bash", str(script)], tmp_path, env_for(tmp_path))
    assert again.returncode == 0, again.stdout
    assert "checksum mismatch" in again.stdout
    assert target.read_bytes() == body_of("data.tar", size)


@pytest.mark.parametrize(
    "how",
    ["cat {script} | bash", "bash < {script}", "cat {script} | bash -s -- --parallel 2"],
)
def test_the_script_runs_from_a_pipe_and_from_standard_input(file_server, tmp_path, how):
    files = [file_server.add(f"p{i}.tar") for i in range(3)]
    script = write_script(tmp_path, files, file_server.url)
    done = run(how.format(script=script), tmp_path, env_for(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Summary: 3 of 3 files verified" in done.stdout
    for f in files:
        assert (tmp_path / f.relative_path).is_file()


def test_help_is_whole_and_names_the_portal_host(tmp_path):
    script = write_script(
        tmp_path,
        [ScriptFile("http://portal.lab.example:8202/dataPortal/a.tar", "a.tar", 1, None, False)],
        "http://portal.lab.example:8202",
    )
    for how in (["bash", str(script), "--help"], f"bash -s -- --help < {script}"):
        done = run(how, tmp_path, env_for(tmp_path))
        assert done.returncode == 0
        assert 'machine portal.lab.example password <token>"' in done.stdout
        assert "machine  " not in done.stdout
        assert done.stdout.rstrip().endswith("until the reason is fixed).")
        assert "@@" not in done.stdout


def test_dry_run_reports_a_full_disk_but_the_real_run_stops(tmp_path):
    huge = ScriptFile("http://127.0.0.1:9/dataPortal/huge.tar", "huge.tar", 10**18, None, False)
    script = write_script(tmp_path, [huge], "http://127.0.0.1:9")
    dry = run(["bash", str(script), "--dry-run"], tmp_path, env_for(tmp_path))
    assert dry.returncode == 0
    assert "Not enough free disk space here" in dry.stdout
    assert "would fetch huge.tar" in dry.stdout
    real = run(["bash", str(script)], tmp_path, env_for(tmp_path))
    assert real.returncode == 2
    assert "not enough free disk space" in real.stderr


def process_command_lines(cwd: Path | None = None) -> list[str]:
    """Every process's command line; with ``cwd``, only those of processes working there (the
    script's own children, not another test run's on the same machine)."""
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if cwd is not None and Path(os.readlink(entry / "cwd")) != cwd:
                    continue
                lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    return lines


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_leaves_no_secret_and_no_process_behind(file_server, tmp_path, signum):
    slow = [file_server.add(f"slow{i}.tar", 200 * 1024) for i in range(3)]
    big = file_server.add("big.tar", 9 * 1024 * 1024)  # the hashing pipeline path
    file_server.slow.update({f.relative_path.rsplit("/", 1)[-1] for f in [*slow, big]})
    script = write_script(tmp_path, [*slow, big], file_server.url)
    env = env_for(tmp_path)
    proc = subprocess.Popen(
        ["bash", str(script)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    seen_running = False
    for _ in range(100):
        time.sleep(0.05)
        commands = process_command_lines()
        assert not [c for c in commands if TOKEN in c], "the token is on a command line"
        if any(("curl" in c and file_server.url in c) or "-K -" in c for c in commands):
            seen_running = True
        if sum(file_server.seen.values()) >= 4:
            break
    assert seen_running or sum(file_server.seen.values()) >= 1
    proc.send_signal(signum)
    proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert list((tmp_path / "tmpdir").iterdir()) == []
    assert files_holding(tmp_path, TOKEN) == []
    # The script waits for its children before it exits; give a loaded machine time to reap.
    deadline = time.monotonic() + 3  # a surviving child still has seconds of trickle left
    while [c for c in process_command_lines(tmp_path) if "-K -" in c and "--parallel" in c]:
        assert time.monotonic() < deadline, "a curl child outlived the interrupted script"
        time.sleep(0.1)
    assert all(value.startswith("Token ") for value in file_server.auth if value)


def test_the_token_never_touches_disk_and_wget_is_never_handed_one(file_server, tmp_path):
    files = [file_server.add("small.tar"), file_server.add("large.tar", 9 * 1024 * 1024)]
    script = write_script(tmp_path, files, file_server.url)
    done = run(["bash", str(script)], tmp_path, env_for(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert TOKEN not in done.stdout + done.stderr
    assert files_holding(tmp_path, TOKEN) == []
    assert list((tmp_path / "tmpdir").iterdir()) == []
    for f in files:
        name = f.relative_path.rsplit("/", 1)[-1]
        assert (tmp_path / f.relative_path).read_bytes() == body_of(name, f.size)

    work = tmp_path / "wget"
    work.mkdir()
    with_wget = run(["bash", str(script)], work, env_for(work, ARCHIVE_PORTAL_USE_WGET="1"))
    assert with_wget.returncode == 1
    assert with_wget.stdout.count("needs curl") == 2
    assert file_server.seen["small.tar"] == 1  # wget sent nothing


def test_wget_fetches_resumes_and_verifies_public_files(file_server, tmp_path):
    served = [file_server.add("open.tar"), file_server.add("open_large.tar", 9 * 1024 * 1024)]
    public = [ScriptFile(f.url, f.relative_path, f.size, f.sha256, False) for f in served]
    file_server.public.update({"open.tar", "open_large.tar"})
    script = write_script(tmp_path, public, file_server.url)
    partial = tmp_path / public[1].relative_path
    partial.parent.mkdir(parents=True)
    partial.write_bytes(body_of("open_large.tar", public[1].size)[:1000])
    done = run(["bash", str(script)], tmp_path, env_for(tmp_path, ARCHIVE_PORTAL_USE_WGET="1"))
    assert done.returncode == 0, done.stdout + done.stderr
    for f in public:
        name = f.relative_path.rsplit("/", 1)[-1]
        assert (tmp_path / f.relative_path).read_bytes() == body_of(name, f.size)
    assert not any(file_server.auth)  # wget was never given the token


def test_wget_reports_a_refusal_with_the_servers_reason(file_server, tmp_path):
    gone = file_server.add("gone.tar")
    file_server.public.add("gone.tar")
    file_server.script["gone.tar"] = [404, 404]
    public = [ScriptFile(gone.url, gone.relative_path, gone.size, gone.sha256, False)]
    script = write_script(tmp_path, public, file_server.url)
    done = run(["bash", str(script)], tmp_path, env_for(tmp_path, ARCHIVE_PORTAL_USE_WGET="1"))
    assert done.returncode == 3
    assert "the server refused (HTTP 404): scripted 404 for gone.tar" in done.stdout
