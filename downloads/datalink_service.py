"""The portal's own DataLink responses, filtered by the access rule.

``ID`` is a member OUS uid (its files) or, as ALMA's recursive DataLink does, the name of one of
its tars (that tar's members, for ``get_data_info(expand_tarfiles=True)``). A member OUS's answer
names, after each product or auxiliary tar the lab cache holds, a service descriptor (ALMA's
``DataLink.<tar name>``) whose access URL is this service with the tar's name as ``ID``.

A denied member OUS yields one row with ``error_message`` "proprietary until ...", and no access
URL, name or size: the same promise as every other surface. A tar name the caller may not
download and a name that does not exist get the same one row: a proprietary tar's name is
protected too, so asking for it must not confirm that it exists.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from django.urls import reverse

from archiveportal import votable
from downloads import access, serving, tar_contents
from downloads.services import absolute_url, file_url, portal_file_path
from queries.models import ArchiveFile, FileCategory, MemberOUS

SEMANTICS = {
    FileCategory.PRODUCT: "#this",
    FileCategory.AUXILIARY: "#auxiliary",
    FileCategory.RAW: "#progenitor",
    FileCategory.README: "#documentation",
    FileCategory.RAW_SEMIPASS: "#progenitor",
    FileCategory.EXTERNAL: "#auxiliary",
}
# ALMA offers the contents of these tars (refdata/astroquery/alma-datalink.xml); raw ASDM tars
# stay whole.
EXPANDABLE = {FileCategory.PRODUCT, FileCategory.AUXILIARY}
DATALINK_STANDARD_ID = "ivo://ivoa.net/std/DataLink#links-1.0"
DATALINK_CONTENT_TYPE = "application/x-votable+xml;content=datalink"
MEMBER_CONTENT_TYPE = "application/octet-stream"  # what ALMA says of every tar member
# A descriptor's ID is an XML ID and its name travels unescaped in astroquery's follow-up call.
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
NOT_FOUND = "NotFoundFault: no file of that name that this account may download"
FIELDS = (
    votable.Field("ID", "char", ucd="meta.id;meta.main"),
    votable.Field("access_url", "char", ucd="meta.ref.url"),
    votable.Field("service_def", "char", ucd="meta.ref"),
    votable.Field("error_message", "char", ucd="meta.code.error"),
    votable.Field("semantics", "char", ucd="meta.code"),
    votable.Field("description", "char", ucd="meta.note"),
    votable.Field("content_type", "char", ucd="meta.code.mime"),
    votable.Field("content_length", "long", unit="byte", ucd="phys.size;meta.file"),
    # ALMA's own column (refdata/astroquery/alma-datalink.xml): may this caller use the link.
    votable.Field("readable", "boolean"),
)


def _error_row(id_: str, message: str) -> tuple:
    return (id_, None, None, message, None, None, None, None, False)


def member_url(tar: str, member: tar_contents.Member) -> str:
    """Where ``/dataPortal/<tar>/<member>`` serves one member of a lab-cache tar."""
    return absolute_url(f"{portal_file_path(tar)}/{quote(member.name)}")


def _expandable(file: ArchiveFile) -> bool:
    if file.category not in EXPANDABLE or not tar_contents.is_tar_name(file.name):
        return False
    if not _PLAIN_NAME.match(file.name):
        return False
    path = serving.lab_file(file.name)
    return path is not None and bool(tar_contents.members(path))


def _descriptor(file: ArchiveFile) -> votable.ServiceDescriptor:
    return votable.ServiceDescriptor(
        id=f"DataLink.{file.name}",
        # astroquery takes everything after "ID=" as the ID: the name goes in unescaped.
        access_url=absolute_url(f"{reverse('downloads:datalink')}?ID={file.name}"),
        standard_id=DATALINK_STANDARD_ID,
    )


def _member_ous_links(user, mous: MemberOUS) -> tuple[list[tuple], list]:
    decision, files = access.downloadable_files(user, mous, surface="datalink")
    if not decision.allowed:
        return [_error_row(mous.uid, f"AuthorizationFault: {decision.message}")], []
    rows, services = [], []
    for f in files:
        semantics = SEMANTICS.get(f.category, f.semantics or "#this")
        rows.append(
            (
                mous.uid,
                file_url(f),
                None,
                None,
                semantics,
                f"{f.get_category_display()}: {f.name}",
                f.content_type or "application/x-tar",
                f.size,
                True,  # only files the decider allowed are listed
            )
        )
        if _expandable(f):
            descriptor = _descriptor(f)
            services.append(descriptor)
            # ALMA's shape: no access URL, size or readable flag; the descriptor says where.
            link = (mous.uid, None, descriptor.id, None, semantics, None, DATALINK_CONTENT_TYPE)
            rows.append((*link, None, None))
    return rows, services


def _tar_links(user, name: str) -> list[tuple]:
    file = ArchiveFile.objects.select_related("member_ous__project").filter(name=name).first()
    if file is None or not access.decide(user, file.member_ous, surface="datalink").allowed:
        return [_error_row(name, NOT_FOUND)]
    path = serving.lab_file(name) if tar_contents.is_tar_name(name) else None
    members = tar_contents.members(path) if path is not None else ()
    if not members:
        return [
            _error_row(
                name,
                "NotFoundFault: the lab's cache holds no tar of that name to list; "
                "its contents are listed for tars in the cache only",
            )
        ]
    semantics = SEMANTICS.get(file.category, file.semantics or "#this")
    label = file.get_category_display()
    return [
        (
            name,
            member_url(name, m),
            None,
            None,
            semantics,
            f"{label} file {m.name}",
            MEMBER_CONTENT_TYPE,
            m.size,
            True,  # the decider allowed the tar, so each of its members
        )
        for m in members
    ]


def render_datalink(user, uid: str) -> bytes:
    """The DataLink document for ``ID=uid``: a member OUS uid or one of its tars' names."""
    mous = MemberOUS.objects.select_related("project").filter(uid=uid).first()
    if mous is not None:
        rows, services = _member_ous_links(user, mous)
        return votable.render(FIELDS, rows, services=services)
    if uid.startswith("uid://"):
        return votable.render(
            FIELDS, [_error_row(uid, f"NotFoundFault: {uid[:80]} is not in the mirror")]
        )
    return votable.render(FIELDS, _tar_links(user, uid))
