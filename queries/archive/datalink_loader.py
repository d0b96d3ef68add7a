"""DataLink listings -> the mirror's file catalogue (``ArchiveFile``).

A member OUS's DataLink response lists its deliverables: README (``#documentation``), product
tars (``#this``), the auxiliary tar (``#auxiliary``) and one raw ASDM tar per execution block
(``#progenitor``). Rows that point at a nested DataLink (``service_def``) or that describe the
members *inside* a tar (recursive responses, whose ID is a tar name) are not deliverables of
their own and are not catalogued.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import urlparse

from queries.archive.formats import RawTable
from queries.models import ArchiveFile, ExecutionBlock, FileCategory, MemberOUS, Project

_PROJECT_PREFIX = re.compile(r"^(\d{4}\.[0-9A-Z]\.\d{5}\.[A-Z]+)_")
_ASDM_IN_NAME = re.compile(r"(uid___A002_X[0-9a-f]+_X[0-9a-f]+)\.asdm\.sdm\.tar$", re.I)


def classify(name: str, semantics: str = "") -> str:
    """A deliverable's category from ALMA's naming, falling back on DataLink semantics."""
    lower = name.lower()
    if lower.endswith(".readme.txt") or lower.endswith("readme.txt.tar"):
        return FileCategory.README
    if lower.endswith(".asdm.sdm.tar") or semantics == "#progenitor":
        return FileCategory.RAW
    if lower.endswith("_auxiliary.tar") or semantics == "#auxiliary":
        return FileCategory.AUXILIARY
    if re.search(r"_\d{3}_of_\d{3}\.tar$", lower) or semantics == "#this":
        return FileCategory.PRODUCT
    if semantics == "#documentation":
        return FileCategory.README
    return FileCategory.EXTERNAL


def file_name(access_url: str) -> str:
    return PurePosixPath(urlparse(access_url).path).name


def load_datalink_table(table: RawTable) -> int:
    """Catalogue the deliverables of a DataLink VOTable; returns how many files it stored."""
    stored = 0
    for _, row in table.rows:
        uid = str(row.get("ID") or "")
        url = str(row.get("access_url") or "")
        if not uid.startswith("uid://") or not url or row.get("service_def"):
            continue
        size = row.get("content_length")
        stored += store_file(
            uid,
            name=file_name(url),
            access_url=url,
            size=int(size) if size is not None else None,
            semantics=str(row.get("semantics") or ""),
            content_type=str(row.get("content_type") or ""),
        )
    return stored


def _member_ous(uid: str, name: str) -> MemberOUS:
    mous = MemberOUS.objects.filter(uid=uid).first()
    if mous is not None:
        return mous
    # A listing for a member OUS the mirror has no ObsCore rows for: keep it, under the project
    # its file names carry, so that the files are not lost.
    match = _PROJECT_PREFIX.match(name)
    code = match.group(1) if match else "unknown"
    project, _ = Project.objects.get_or_create(code=code)
    return MemberOUS.objects.create(uid=uid, project=project)


def store_file(
    uid: str,
    *,
    name: str,
    access_url: str,
    size: int | None,
    semantics: str = "",
    content_type: str = "",
    checksum_sha256: str = "",
    is_synthetic: bool = False,
) -> int:
    mous = _member_ous(uid, name)
    category = classify(name, semantics)
    block = None
    asdm = _ASDM_IN_NAME.search(name)
    if asdm:
        asdm_uid = asdm.group(1).replace("___", "://").replace("_", "/")
        block, _ = ExecutionBlock.objects.get_or_create(
            asdm_uid=asdm_uid, defaults={"member_ous": mous}
        )
    ArchiveFile.objects.update_or_create(
        member_ous=mous,
        name=name[:255],
        defaults={
            "category": category,
            "size": size,
            "access_url": access_url[:500],
            "semantics": semantics[:32],
            "content_type": content_type[:128],
            "execution_block": block,
            "checksum_sha256": checksum_sha256,
            "is_synthetic": is_synthetic,
        },
    )
    return 1
