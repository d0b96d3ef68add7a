"""Loading archive output into the mirror: name mapping, unit normalisation, idempotent upsert.

Invariants: a row is keyed by ``obs_id`` (loading the same data twice changes nothing); every
value is stored in ``queries.units.CANONICAL_UNITS``; a column the mirror does not model is kept
in ``Observation.extra``, never dropped; a file with a bad value loads nothing at all, and the
error names the file, the row and the column.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.db import models, transaction

from queries import units
from queries.archive.columns import IGNORED_COLUMNS, LEGACY_COLUMNS, OBSCORE_RENAMES
from queries.archive.datalink_loader import load_datalink_table
from queries.archive.formats import RawTable, read_table
from queries.errors import LoadError
from queries.filters import forget_max_fov
from queries.hierarchy import rebuild_hierarchy
from queries.models import Observation
from queries.names import name_key

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
_FIELDS = {f.name: f for f in Observation._meta.concrete_fields}
_DERIVED = {
    "id",
    "project",
    "member_ous",
    "extra",
    "source_file",
    "target_name_key",
    "s_x",
    "s_y",
    "s_z",
    "band_mask",
}
UPDATE_FIELDS = [
    f.name
    for f in Observation._meta.concrete_fields
    if f.name not in ("id", "obs_id", "project", "member_ous")
]


@dataclass
class LoadResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    files: int = 0
    unknown_columns: set[str] = field(default_factory=set)
    proposal_ids: set[str] = field(default_factory=set)
    datalink_files: int = 0

    def merge(self, other: LoadResult) -> None:
        self.rows += other.rows
        self.created += other.created
        self.updated += other.updated
        self.files += other.files
        self.datalink_files += other.datalink_files
        self.unknown_columns |= other.unknown_columns
        self.proposal_ids |= other.proposal_ids


def map_column(name: str) -> tuple[str | None, str]:
    """A file's column name -> (mirror column or None if unknown, the column's source unit)."""
    if name in OBSCORE_RENAMES:
        return OBSCORE_RENAMES[name], ""
    if name in _FIELDS and name not in _DERIVED:
        return name, ""
    legacy = LEGACY_COLUMNS.get(name.strip().lower())
    if legacy:
        return legacy
    return None, ""


def _parse_datetime(text: str) -> datetime:
    text = text.strip().removesuffix("Z")
    if text[:1] == "b" and text[1:2].isdigit():
        text = text[1:]  # a bytes value whose quotes a CSV round trip lost: b2020-03-03T...
    try:
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        pass
    for fmt in (
        "%Y-%m-%dT%H:%M:%S.%f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d",
        "%d-%m-%Y",
    ):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"'{text}' is not a date (expected ISO 8601, e.g. 2019-06-28T15:42:50)")


# Public name for readers of archive timestamps outside the loader (the harvester's cursor).
parse_datetime = _parse_datetime


def _coerce(column: str, value: object, unit: str) -> object:
    """One value into the mirror column's type and canonical unit (ValueError if impossible)."""
    model_field = _FIELDS[column]
    if value is None:
        return None if model_field.null else ""
    if isinstance(model_field, models.DateTimeField):
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        return _parse_datetime(str(value))
    if isinstance(model_field, models.FloatField):
        if unit == "date":  # a legacy observation date feeding t_min (MJD)
            return units.date_to_mjd(_parse_datetime(str(value)))
        if isinstance(value, str) and value.endswith("..."):
            return None  # a value pandas truncated: the number is lost
        number = float(value)
        return (
            units.convert(number, unit, column)
            if unit and column in units.CANONICAL_UNITS
            else number
        )
    if isinstance(model_field, models.IntegerField | models.BigIntegerField):
        number = float(value)
        if number != int(number):
            raise ValueError(f"'{value}' is not a whole number")
        return int(number)
    text = str(value)
    if column == "band_list":
        text = " ".join(t for t in text.replace(",", " ").split())
    if column == "is_mosaic":
        text = {"mosaic": "T", "true": "T", "false": "F", "single": "F"}.get(text.lower(), text)
    if column == "qa2_passed":
        text = {"pass": "T", "fail": "F", "semipass": "F"}.get(text.lower(), text)
    if column == "science_observation" and text.lower() in ("true", "false"):
        text = "T" if text.lower() == "true" else "F"
    max_length = getattr(model_field, "max_length", None)
    return text[:max_length] if max_length else text


def normalise_row(
    raw: dict[str, object],
    *,
    mapping: dict[str, tuple[str | None, str]],
    path: str,
    row_number: int,
    derive_id: bool,
) -> Observation:
    """One file row -> an unsaved Observation with derived fields filled."""
    values: dict[str, object] = {}
    extra: dict[str, object] = {}
    for name, value in raw.items():
        column, unit = mapping[name]
        if column is None:
            if name.strip().lower() not in IGNORED_COLUMNS and value is not None:
                extra[name] = value if isinstance(value, int | float | bool) else str(value)
            continue
        if column in values and values[column] not in (None, ""):
            continue  # two source names for one column: the first (ObsCore) one wins
        try:
            values[column] = _coerce(column, value, unit)
        except (ValueError, TypeError) as exc:
            raise LoadError(path, row_number, name, f"value {value!r} is invalid: {exc}") from None
    _fill_identity(values, raw, path=path, row_number=row_number, derive_id=derive_id)
    if values.get("s_ra") is not None and values.get("s_dec") is not None:
        values["s_x"], values["s_y"], values["s_z"] = units.unit_vector(
            values["s_ra"], values["s_dec"]
        )
    values["band_mask"] = units.band_mask(values.get("band_list") or "")
    values["target_name_key"] = name_key(values.get("target_name") or "")
    values["extra"] = extra
    values["source_file"] = Path(path).name[:255]
    for name, model_field in _FIELDS.items():
        if name not in values and name not in ("id", "project", "member_ous"):
            values[name] = None if model_field.null else model_field.get_default()
    return Observation(**values)


def _fill_identity(values: dict, raw: dict, *, path: str, row_number: int, derive_id: bool) -> None:
    if not values.get("proposal_id"):
        did = values.get("obs_publisher_did") or ""
        if "#" in did:
            values["proposal_id"] = did.split("#", 1)[1]
    if not values.get("proposal_id"):
        raise LoadError(path, row_number, "proposal_id", "is missing: every row needs a project")
    if values.get("obs_id"):
        return
    if not derive_id:
        raise LoadError(path, row_number, "obs_id", "is missing")
    # Files from before ObsCore have no obs_id: derive a stable one from the row's content so a
    # reload finds the same row.
    digest = hashlib.sha1(repr(sorted((k, str(v)) for k, v in raw.items())).encode()).hexdigest()[
        :12
    ]
    anchor = values.get("member_ous_uid") or values.get("asdm_uid") or values["proposal_id"]
    values["obs_id"] = f"{anchor}.row.{digest}"


def observations_from_table(table: RawTable) -> list[Observation]:
    mapping = {name: map_column(name) for name in table.columns}
    derive_id = "obs_id" not in table.columns
    seen: dict[str, Observation] = {}
    for row_number, raw in table.rows:
        obs = normalise_row(
            raw, mapping=mapping, path=str(table.path), row_number=row_number, derive_id=derive_id
        )
        seen[obs.obs_id] = obs  # duplicates inside one file: the last one wins, as on reload
    return list(seen.values())


def unknown_columns(table: RawTable) -> set[str]:
    return {
        n
        for n in table.columns
        if map_column(n)[0] is None and n.strip().lower() not in IGNORED_COLUMNS
    }


def upsert(observations: Sequence[Observation]) -> tuple[int, int]:
    """Insert or update by obs_id in batches; returns (created, updated)."""
    ids = [o.obs_id for o in observations]
    existing: set[str] = set()
    for start in range(0, len(ids), BATCH_SIZE):
        existing |= set(
            Observation.objects.filter(obs_id__in=ids[start : start + BATCH_SIZE]).values_list(
                "obs_id", flat=True
            )
        )
    for start in range(0, len(observations), BATCH_SIZE):
        Observation.objects.bulk_create(
            observations[start : start + BATCH_SIZE],
            update_conflicts=True,
            unique_fields=["obs_id"],
            update_fields=UPDATE_FIELDS,
        )
    return len(set(ids) - existing), len(existing & set(ids))


def upsert_observations(rows: Iterable[dict], *, source: str) -> LoadResult:
    """Upsert rows keyed by ObsCore column names (e.g. a TAP result) and refresh the hierarchy.

    Used by the live-archive search: the same normalisation as for files applies.
    """
    rows = list(rows)
    columns = sorted({k for row in rows for k in row})
    table = RawTable(
        Path(source),
        "obscore",
        columns,
        {},
        [(i + 1, {c: row.get(c) for c in columns}) for i, row in enumerate(rows)],
    )
    observations = observations_from_table(table)
    result = LoadResult(rows=len(observations), files=0, unknown_columns=unknown_columns(table))
    with transaction.atomic():
        result.created, result.updated = upsert(observations)
        result.proposal_ids = {o.proposal_id for o in observations}
        rebuild_hierarchy(result.proposal_ids)
    forget_max_fov()
    return result


def load_paths(paths: Iterable[Path]) -> LoadResult:
    """Load every file, all or nothing: one bad file leaves the mirror as it was."""
    tables = [read_table(Path(p)) for p in paths]
    prepared = []
    for table in tables:
        if table.kind == "datalink":
            prepared.append((table, None))
        else:
            prepared.append((table, observations_from_table(table)))
    total = LoadResult()
    with transaction.atomic():
        datalink_tables = []
        for table, observations in prepared:
            if observations is None:
                datalink_tables.append(table)
                continue
            created, updated = upsert(observations)
            total.merge(
                LoadResult(
                    rows=len(observations),
                    created=created,
                    updated=updated,
                    files=1,
                    unknown_columns=unknown_columns(table),
                    proposal_ids={o.proposal_id for o in observations},
                )
            )
        rebuild_hierarchy(total.proposal_ids)
        for table in datalink_tables:
            total.datalink_files += load_datalink_table(table)
            total.files += 1
    forget_max_fov()
    log.info("loaded %d rows (%d new) from %d files", total.rows, total.created, total.files)
    return total
