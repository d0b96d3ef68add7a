"""The harvest's change journal as the harvest tests compare it."""

from __future__ import annotations

from harvest.models import ObservationChange


def journal(*kinds: str) -> list[tuple]:
    """Every change (of ``kinds``, when given), as what it says (not ids, runs or times, which
    depend on when it ran)."""
    changes = ObservationChange.objects.all()
    if kinds:
        changes = changes.filter(kind__in=kinds)
    return sorted(
        changes.values_list(
            "obs_id",
            "kind",
            "member_ous_uid",
            "proposal_id",
            "old_release_date",
            "new_release_date",
        )
    )
