"""The portal's own DataLink responses, filtered by the access rule.

A denied member OUS yields one row with ``error_message`` "proprietary until ...", and no access
URL, name or size: the same promise as every other surface.
"""

from __future__ import annotations

from archiveportal import votable
from downloads import access
from downloads.services import file_url
from queries.models import FileCategory, MemberOUS

SEMANTICS = {
    FileCategory.PRODUCT: "#this",
    FileCategory.AUXILIARY: "#auxiliary",
    FileCategory.RAW: "#progenitor",
    FileCategory.README: "#documentation",
    FileCategory.RAW_SEMIPASS: "#progenitor",
    FileCategory.EXTERNAL: "#auxiliary",
}
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


def render_datalink(user, uid: str) -> bytes:
    rows = []
    mous = MemberOUS.objects.select_related("project").filter(uid=uid).first()
    if mous is None:
        rows.append(
            (
                uid,
                None,
                None,
                f"NotFoundFault: {uid[:80]} is not in the mirror",
                None,
                None,
                None,
                None,
                False,
            )
        )
    else:
        decision, files = access.downloadable_files(user, mous, surface="datalink")
        if not decision.allowed:
            rows.append(
                (
                    uid,
                    None,
                    None,
                    f"AuthorizationFault: {decision.message}",
                    None,
                    None,
                    None,
                    None,
                    False,
                )
            )
        for f in files:
            rows.append(
                (
                    uid,
                    file_url(f),
                    None,
                    None,
                    SEMANTICS.get(f.category, f.semantics or "#this"),
                    f"{f.get_category_display()}: {f.name}",
                    f.content_type or "application/x-tar",
                    f.size,
                    True,  # only files the decider allowed are listed
                )
            )
    return votable.render(FIELDS, rows)
