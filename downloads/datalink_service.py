"""The portal's own DataLink responses, filtered by the access rule.

A denied member OUS yields one row with ``error_message`` "proprietary until ...", and no access
URL, name or size: the same promise as every other surface.
"""

from __future__ import annotations

import io

from downloads import access
from downloads.requests import file_url
from queries.models import FileCategory, MemberOUS

SEMANTICS = {
    FileCategory.PRODUCT: "#this",
    FileCategory.AUXILIARY: "#auxiliary",
    FileCategory.RAW: "#progenitor",
    FileCategory.README: "#documentation",
    FileCategory.RAW_SEMIPASS: "#progenitor",
    FileCategory.EXTERNAL: "#auxiliary",
}


def render_datalink(user, uid: str) -> bytes:
    from astropy.table import Table

    rows = []
    mous = MemberOUS.objects.select_related("project").filter(uid=uid).first()
    if mous is None:
        rows.append((uid, "", f"NotFoundFault: {uid[:80]} is not in the mirror", "", "", -1))
    else:
        decision, files = access.downloadable_files(user, mous, surface="datalink")
        if not decision.allowed:
            rows.append((uid, "", f"AuthorizationFault: {decision.message}", "", "", -1))
        for f in files:
            rows.append(
                (
                    uid,
                    file_url(f),
                    "",
                    SEMANTICS.get(f.category, f.semantics or "#this"),
                    f.content_type or "application/x-tar",
                    f.size or -1,
                )
            )
    table = Table(
        rows=rows or None,
        names=("ID", "access_url", "error_message", "semantics", "content_type", "content_length"),
        dtype=(str, str, str, str, str, "i8"),
    )
    buffer = io.BytesIO()
    table.write(buffer, format="votable")
    return buffer.getvalue()
