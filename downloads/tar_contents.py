"""The members of a lab-cache tar, read from its headers only: nothing is ever extracted.

DataLink lists them (``get_data_info(expand_tarfiles=True)``) and ``/dataPortal/<tar>/<member>``
serves one. ALMA's tars are plain (uncompressed) tars, in which a regular member's bytes are one
contiguous range of the tar starting at ``offset_data``: serving a member is a seek into the tar.
Only regular, non-sparse members with a relative name and no ``..`` part count as members, and
listing and serving both go through ``members``, so what DataLink lists is exactly what can be
served. No access policy here: callers ask ``downloads.access`` first.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

TAR_SUFFIX = ".tar"


@dataclass(frozen=True)
class Member:
    name: str  # the path inside the tar, as ``tar tf`` prints it
    offset: int  # where its bytes start in the tar
    size: int

    @property
    def basename(self) -> str:
        return PurePosixPath(self.name).name


def is_tar_name(name: str) -> bool:
    return name.endswith(TAR_SUFFIX)


def members(path: Path) -> tuple[Member, ...]:
    """The servable members of the tar at ``path`` (empty when it is not a readable plain tar).

    Cached per (path, mtime, size): a tar replaced in the cache is read again, and DataLink and
    the member downloads that follow it do not re-read a tar of thousands of members each time.
    """
    try:
        stat = path.stat()
    except OSError:  # removed from the cache since it was looked up
        return ()
    return _read(str(path), stat.st_mtime_ns, stat.st_size)


def member(path: Path, name: str) -> Member | None:
    return next((m for m in members(path) if m.name == name), None)


def _servable(info: tarfile.TarInfo) -> bool:
    parts = PurePosixPath(info.name).parts
    return (
        info.isreg()
        and not info.issparse()
        and bool(parts)
        and not info.name.startswith("/")
        and ".." not in parts
    )


@lru_cache(maxsize=256)
def _read(path: str, mtime_ns: int, size: int) -> tuple[Member, ...]:
    try:
        # "r:" refuses compressed tars: a gzip member has no byte range to serve.
        with tarfile.open(path, mode="r:") as tar:
            return tuple(
                Member(info.name, info.offset_data, info.size) for info in tar if _servable(info)
            )
    except (tarfile.TarError, OSError):
        return ()
