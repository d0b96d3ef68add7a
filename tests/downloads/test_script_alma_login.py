"""Files proprietary at ALMA itself: the script logs in to ALMA as ALMA's own scripts do."""

from __future__ import annotations

import hashlib
import os
import subprocess

from downloads.script import ScriptFile, render_script
from tests.archive_replay import alma_file_bytes


def script_for(archive_url: str, tmp_path):
    names = [
        "2019.1.00001.S_uid___A001_X1_X1_secret_001_of_001.tar",
        "member.uid___A001_X1_X1.README.txt",
    ]
    files = [
        ScriptFile(
            f"{archive_url}/dataPortal/{n}",
            f"p/{n}",
            len(alma_file_bytes(n)),
            hashlib.sha256(alma_file_bytes(n)).hexdigest(),
            "secret" in n,
            alma_login="secret" in n,
        )
        for n in names
    ]
    path = tmp_path / "downloadRequestalma.sh"
    path.write_text(
        render_script(request_id="alma", files=files, portal_url="http://portal.example.org")
    )
    return path, names


def run(path, tmp_path, **env):
    environment = {
        k: v for k, v in os.environ.items() if k not in ("ALMA_USERNAME", "ALMA_PASSWORD")
    }
    environment.update(HOME=str(tmp_path), **env)
    return subprocess.run(
        ["bash", str(path)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_the_script_logs_in_to_alma_for_proprietary_files(archive_server, tmp_path):
    path, names = script_for(archive_server.url, tmp_path)
    text = path.read_text()
    assert f'ALMA_LOGIN_URL="{archive_server.url}/dataPortal/api/login"' in text
    assert "alma-pw" not in text
    done = run(path, tmp_path, ALMA_USERNAME="alma_user", ALMA_PASSWORD="alma-pw")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "alma-pw" not in done.stdout + done.stderr
    for name in names:
        assert (tmp_path / "p" / name).read_bytes() == alma_file_bytes(name)
    assert not list(tmp_path.glob("apd*"))  # no credential file left behind


def test_credentials_can_come_from_netrc(archive_server, tmp_path):
    path, _ = script_for(archive_server.url, tmp_path)
    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login alma_user password alma-pw\n")
    done = run(path, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_without_an_alma_login_those_files_fail_clearly(archive_server, tmp_path):
    path, names = script_for(archive_server.url, tmp_path)
    done = run(path, tmp_path)
    assert done.returncode == 1
    assert "needs your ALMA login" in done.stdout
    assert (tmp_path / "p" / names[1]).exists()  # the public file still arrives
    wrong = run(path, tmp_path, ALMA_USERNAME="alma_user", ALMA_PASSWORD="nope")
    assert wrong.returncode == 1
    assert "ALMA login failed" in wrong.stdout
