"""The access matrix: roles x data states, reusable by every surface's tests.

A surface test builds the world with ``build_world`` at a frozen instant, then for each
(role, state) cell asks its surface and checks that the status is right and, with
``assert_no_leak``, that a denied body never carries the proprietary file's name, size, checksum
or URL. ``staff`` is a superuser with no rights to the data: the admin is one more surface.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.contrib.auth.models import AnonymousUser

from downloads.models import AlmaIdentity, Delegation
from queries.models import ArchiveFile, FileCategory
from tests.factories import MemberOUSFactory, ProjectFactory, UserFactory

NOW = datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC)

ROLES = ["pi", "delegate", "expired_delegate", "revoked_delegate", "member", "staff", "anonymous"]
STATES = {
    "public": NOW - timedelta(days=400),
    "proprietary": NOW + timedelta(days=200),
    "released_one_second_ago": NOW - timedelta(seconds=1),
    "released_in_one_second": NOW + timedelta(seconds=1),
    "placeholder": datetime(3000, 1, 1, tzinfo=UTC),
    "missing": None,
}
PUBLIC_STATES = {"public", "released_one_second_ago"}
GRANTED_ROLES = {"pi", "delegate"}


def expected_allowed(role: str, state: str) -> bool:
    return state in PUBLIC_STATES or role in GRANTED_ROLES


@dataclass
class World:
    users: dict
    mouses: dict
    files: dict
    project: object
    lab_bytes: dict = field(default_factory=dict)  # the lab cache's bytes, when written

    def user(self, role: str):
        return AnonymousUser() if role == "anonymous" else self.users[role]


def build_world() -> World:
    """One project led by ``pi`` with one member OUS (and one file) per data state."""
    project = ProjectFactory(code="2025.1.00777.S", pi_userid="matrix_pi", pi_name="Matrix, Pi")
    users = {role: UserFactory(username=f"matrix_{role}") for role in ROLES if role != "anonymous"}
    users["staff"].is_staff = True
    users["staff"].is_superuser = True
    users["staff"].save()
    AlmaIdentity.objects.create(user=users["pi"], alma_userid="matrix_pi")
    Delegation.objects.create(pi=users["pi"], delegate=users["delegate"], project=project)
    Delegation.objects.create(
        pi=users["pi"],
        delegate=users["expired_delegate"],
        project=project,
        expires_at=NOW - timedelta(days=1),
    )
    Delegation.objects.create(
        pi=users["pi"],
        delegate=users["revoked_delegate"],
        project=project,
        revoked_at=NOW - timedelta(days=2),
    )
    mouses, files = {}, {}
    for index, (state, release) in enumerate(STATES.items()):
        mous = MemberOUSFactory(
            uid=f"uid://A001/X777/X{index + 1:x}",
            project=project,
            release_date=release,
            data_rights="Public" if state in PUBLIC_STATES else "Proprietary",
        )
        mouses[state] = mous
        files[state] = ArchiveFile.objects.create(
            member_ous=mous,
            name=f"2025.1.00777.S_secretname_{state}_001_of_001.tar",
            category=FileCategory.PRODUCT,
            size=987_654_321 + index,
            checksum_sha256=hashlib.sha256(state.encode()).hexdigest(),
            access_url=f"https://almascience.org/dataPortal/secret_{state}.tar",
        )
    return World(users, mouses, files, project)


def assert_no_leak(body: str | bytes, file: ArchiveFile) -> None:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    assert file.name not in text, "proprietary file name leaked"
    assert str(file.size) not in text, "proprietary file size leaked"
    assert file.access_url not in text, "proprietary URL leaked"
    assert file.checksum_sha256 not in text, "proprietary checksum leaked"


def member_name(state: str) -> str:
    """The one member of ``state``'s product tar: as protected as the tar's own name."""
    return f"2025.1.00777.S/product/secretmember_{state}.pbcor.fits"


MEMBER_SIZE = 123_457  # distinctive: must appear in no denied body


def write_lab_tar(root: Path, world: World) -> dict[str, bytes]:
    """Each state's product file as a real tar in the lab cache (one member); returns bytes."""
    written = {}
    for state, file in world.files.items():
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            info = tarfile.TarInfo(member_name(state))
            info.size = MEMBER_SIZE
            tar.addfile(info, io.BytesIO(state.encode().ljust(MEMBER_SIZE, b"\0")))
        (root / file.name).write_bytes(buffer.getvalue())
        written[state] = buffer.getvalue()
    return written


def assert_no_member_leak(body: str | bytes, state: str) -> None:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    assert f"secretmember_{state}" not in text, "proprietary tar member name leaked"
    assert str(MEMBER_SIZE) not in text, "proprietary tar member size leaked"
