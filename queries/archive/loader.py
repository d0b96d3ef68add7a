"""Loading archive output into the mirror: name mapping, unit normalisation, idempotent upsert.

Invariants: a row is keyed by ``obs_id`` (loading the same data twice changes nothing); every
value is stored in ``queries.units.CANONICAL_UNITS``; a column the mirror does not model is kept
in ``Observation.extra``, never dropped; a file with a bad value loads nothing at all, and the
error names the file, the row and the column.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from pathlib import Path

from django.db import models, transaction

from queries import bulk_indexes, hierarchy_sql, pending_indexes, staging, units
from queries.archive.columns import LEGACY_COLUMNS, OBSCORE_RENAMES, ignored
from queries.archive.datalink_loader import load_datalink_table
from queries.archive.formats import ArrowRows, ColumnRows, RawTable, read_table
from queries.errors import LoadError
from queries.filters import forget_max_fov
from queries.hierarchy import WindowsBy, rebuild_hierarchy
from queries.models import MemberOUS, Observation, Project, SpectralWindow
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
    # One file's rows went in with their spectral windows (``arrow_load``'s first load).
    windows_written: bool = False

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
            return units.datetime_to_mjd(_parse_datetime(str(value)))
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
    return Observation(
        **normalise_values(
            raw, mapping=mapping, path=path, row_number=row_number, derive_id=derive_id
        )
    )


def normalise_values(
    raw: dict[str, object],
    *,
    mapping: dict[str, tuple[str | None, str]],
    path: str,
    row_number: int,
    derive_id: bool,
) -> dict[str, object]:
    """``normalise_row`` as the field values (the harvester COPYs them without model objects)."""
    values: dict[str, object] = {}
    extra: dict[str, object] = {}
    for name, value in raw.items():
        column, unit = mapping[name]
        if column is None:
            if not ignored(name) and value is not None:
                extra[name] = value if isinstance(value, int | float | bool) else str(value)
            continue
        if column in values and values[column] not in (None, ""):
            continue  # two source names for one column: the first (ObsCore) one wins
        try:
            values[column] = converter(column, unit)(value)
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
    values["source_file"] = _file_name(path)
    for name, default in _DEFAULTS.items():
        if name not in values:
            values[name] = default
    return values


# What normalise_values fills in for a column the source lacks.
_DEFAULTS = {
    name: None if f.null else f.get_default()
    for name, f in _FIELDS.items()
    if name not in ("id", "project", "member_ous")
}


@lru_cache(maxsize=64)
def _file_name(path: str) -> str:
    return Path(path).name[:255]


@lru_cache(maxsize=1024)
def converter(column: str, unit: str) -> Callable[[object], object]:
    """``_coerce`` for one column, with a short cut for a value already of the column's type
    and unit (a TAP result's floats, ints and plain text); anything else goes through
    ``_coerce`` itself, so the rules stay there alone."""
    model_field = _FIELDS[column]

    def coerce(value: object) -> object:
        return _coerce(column, value, unit)

    if unit or column in _TEXT_RULES:
        return coerce
    if isinstance(model_field, models.FloatField):
        return lambda value: value if type(value) is float else coerce(value)
    if isinstance(model_field, models.IntegerField | models.BigIntegerField):
        return lambda value: value if type(value) is int else coerce(value)
    if isinstance(model_field, models.CharField | models.TextField):
        max_length = model_field.max_length
        if max_length:
            return lambda value: value[:max_length] if type(value) is str else coerce(value)
        return lambda value: value if type(value) is str else coerce(value)
    return coerce


# Text columns whose values ``_coerce`` rewrites: never short-cut.
_TEXT_RULES = {"band_list", "is_mosaic", "qa2_passed", "science_observation"}


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
    return [Observation(**values) for values in values_from_table(table)]


def values_from_table(table: RawTable) -> list[dict[str, object]]:
    """Every row of ``table`` normalised (``normalise_values``), one per obs_id."""
    return columns_from_table(table).dicts()


@dataclass
class Columns:
    """Normalised rows held a column at a time: ``values[name][i]`` is row ``i``'s value of
    mirror column ``name`` (every column ``normalise_values`` fills), one row per obs_id.

    A page of a TAP result is normalised and COPYed this way without a dict per row.
    """

    values: dict[str, list[object]]
    length: int

    def __len__(self) -> int:
        return self.length

    def rows(self, names: Sequence[str]) -> list[tuple]:
        """The rows as tuples of ``names``' values, in that order."""
        return list(zip(*(self.values[n] for n in names), strict=True))

    def dicts(self) -> list[dict[str, object]]:
        names = list(self.values)
        return [dict(zip(names, row, strict=True)) for row in self.rows(names)]

    @classmethod
    def from_dicts(cls, rows: Sequence[dict[str, object]]) -> Columns:
        names = list(rows[0]) if rows else list(_DEFAULTS)
        return cls({n: [row[n] for row in rows] for n in names}, len(rows))


def columns_from_table(table: RawTable) -> Columns:
    """``values_from_table`` a column at a time (same values, same LoadError)."""
    if isinstance(table.rows, ArrowRows):  # the rows and their line numbers as before
        table = replace(table, rows=table.rows.exactly())
    mapping = {name: map_column(name) for name in table.columns}
    derive_id = "obs_id" not in table.columns
    path = str(table.path)
    targets = [column for column, _ in mapping.values() if column is not None]
    if not derive_id and len(targets) == len(set(targets)):
        return _unique(_columns_one_to_one(table, mapping, path))
    rows = [
        normalise_values(raw, mapping=mapping, path=path, row_number=n, derive_id=derive_id)
        for n, raw in table.rows
    ]
    seen: dict[str, dict[str, object]] = {}
    for values in rows:
        seen[values["obs_id"]] = values  # duplicates inside one file: the last one wins
    return Columns.from_dicts(list(seen.values()))


def _unique(columns: Columns) -> Columns:
    """One row per obs_id: a later duplicate replaces the earlier one in its place."""
    ids = columns.values["obs_id"]
    if len(set(ids)) == len(ids):
        return columns
    last = {obs_id: i for i, obs_id in enumerate(ids)}
    keep = [last[obs_id] for obs_id in dict.fromkeys(ids)]
    return Columns({n: [v[i] for i in keep] for n, v in columns.values.items()}, len(keep))


def _columns_one_to_one(
    table: RawTable, mapping: dict[str, tuple[str | None, str]], path: str
) -> Columns:
    """``normalise_values`` for a table whose columns map one to one (an ObsCore/TAP result),
    a column at a time: a column whose every value already has the mirror column's type is
    taken as it is (what ``_coerce`` would return), the others go through ``_coerce`` value by
    value; derived columns come from each distinct source value once. Same values, same
    LoadError, a fraction of the time of a dict per row on a large page."""
    by_column = table.rows if isinstance(table.rows, ColumnRows) else None
    if by_column is not None:  # a delimited file: its cells are in columns already
        numbers, raws = by_column.numbers, None
    else:
        numbers = [n for n, _ in table.rows]
        raws = [raw for _, raw in table.rows]
    by_name = _by_name(raws) if raws is not None else None
    n_rows = len(numbers)
    columns: dict[str, list[object]] = {}
    unknown = []
    for name, (column, unit) in mapping.items():
        if column is None:
            if not ignored(name):
                unknown.append(name)
            continue
        if by_column is not None:
            cells = list(by_column.cells[name])
        elif by_name is not None and name in by_name:
            cells = by_name[name]
        else:
            try:
                cells = list(map(itemgetter(name), raws))
            except KeyError:  # a row without the column (a ragged file)
                cells = [raw.get(name) for raw in raws]
        columns[column] = _coerce_column(column, unit, cells, name, numbers, path)
    _fill_identity_columns(columns, n_rows, numbers=numbers, path=path)
    ra, dec = columns.get("s_ra"), columns.get("s_dec")
    if ra is not None and dec is not None:
        vectors = [
            _NO_VECTOR if a is None or d is None else units.unit_vector(a, d)
            for a, d in zip(ra, dec, strict=True)
        ]
        for axis, name in enumerate(("s_x", "s_y", "s_z")):
            columns[name] = [v[axis] for v in vectors]
    columns["band_mask"] = _derived(columns.get("band_list"), units.band_mask, n_rows)
    columns["target_name_key"] = _derived(columns.get("target_name"), name_key, n_rows)
    if unknown and by_column is not None:
        columns["extra"] = [
            {n: str(v) for n, v in zip(unknown, values, strict=True) if v is not None}
            for values in zip(*(by_column.cells[n] for n in unknown), strict=True)
        ]
    elif unknown:
        columns["extra"] = [
            {
                n: raw[n] if isinstance(raw[n], int | float | bool) else str(raw[n])
                for n in unknown
                if raw.get(n) is not None
            }
            for raw in raws
        ]
    else:
        columns["extra"] = [{} for _ in range(n_rows)]
    columns["source_file"] = [_file_name(path)] * n_rows
    for name, default in _DEFAULTS.items():
        if name not in columns:
            columns[name] = [default] * n_rows
    return Columns(columns, n_rows)


_NO_VECTOR = (None, None, None)


def _by_name(raws: list[dict[str, object]]) -> dict[str, list[object]] | None:
    """The rows' values by column, when every row has the same keys in the same order (a TAP
    answer: a dict per row, built from one header): transposed in one pass, half the time of
    reading each column out of each dict (~100 ms of a 20,000-row harvest page). None when
    the rows differ (a ragged table): the columns are then read row by row."""
    if not raws:
        return None
    keys = tuple(raws[0])
    if not all(tuple(raw) == keys for raw in raws):
        return None
    columns = zip(*(raw.values() for raw in raws), strict=True)
    return dict(zip(keys, map(list, columns), strict=True))


def _derived(source: list[object] | None, derive: Callable[[str], object], n: int) -> list:
    """``derive(value or "")`` for every row, computed once per distinct value."""
    if source is None:
        return [derive("")] * n
    cache: dict[object, object] = {}
    out = []
    for value in source:
        try:
            out.append(cache[value])
        except KeyError:
            cache[value] = derived = derive(value or "")
            out.append(derived)
    return out


def _fill_identity_columns(
    columns: dict[str, list[object]], n: int, *, numbers: list[int], path: str
) -> None:
    """``_fill_identity`` for every row of a table that has an obs_id column: the first row
    without a project (after reading it from obs_publisher_did) or without an obs_id fails."""
    proposals = columns.get("proposal_id") or [""] * n
    if not all(proposals):
        dids = columns.get("obs_publisher_did") or [""] * n
        proposals = [
            p or (d.split("#", 1)[1] if "#" in (d or "") else p)
            for p, d in zip(proposals, dids, strict=True)
        ]
        columns["proposal_id"] = proposals
    ids = columns["obs_id"]
    if all(proposals) and all(ids):
        return
    for i, (proposal, obs_id) in enumerate(zip(proposals, ids, strict=True)):
        if not proposal:
            message = "is missing: every row needs a project"
            raise LoadError(path, numbers[i], "proposal_id", message)
        if not obs_id:
            raise LoadError(path, numbers[i], "obs_id", "is missing")


def _coerce_column(
    column: str, unit: str, cells: list[object], name: str, numbers: list[int], path: str
) -> list[object]:
    model_field = _FIELDS[column]
    if not unit and column not in _TEXT_RULES:
        kinds = set(map(type, cells))
        if isinstance(model_field, models.FloatField) and kinds <= {float, _NONE}:
            return cells
        if isinstance(model_field, models.FloatField) and kinds <= {str, _NONE}:
            # Numbers read as text (CSV): float() is all _coerce does to a valid one; any
            # other value (a truncated "1.5...") takes the value-by-value path below.
            try:
                return [None if v is None else float(v) for v in cells]
            except ValueError:
                pass
        whole = isinstance(model_field, models.IntegerField | models.BigIntegerField)
        if whole and kinds <= {int, _NONE}:
            return cells if model_field.null or _NONE not in kinds else _each(column, unit, cells)
        if isinstance(model_field, models.CharField | models.TextField) and kinds <= {str, _NONE}:
            if _NONE in kinds:
                cells = ["" if v is None else v for v in cells]
            limit = model_field.max_length
            if not limit or max(map(len, cells), default=0) <= limit:
                return cells
        if isinstance(model_field, models.DateTimeField) and kinds <= {datetime, _NONE}:
            if all(v is None or v.tzinfo is not None for v in cells):
                return cells
    try:
        return _each(column, unit, cells)
    except _CellError as exc:
        value = cells[exc.index]
        raise LoadError(
            path, numbers[exc.index], name, f"value {value!r} is invalid: {exc.reason}"
        ) from None


_NONE = type(None)


class _CellError(Exception):
    def __init__(self, index: int, reason: Exception) -> None:
        self.index, self.reason = index, reason


def _each(column: str, unit: str, cells: list[object]) -> list[object]:
    """``_coerce`` on every value, once per distinct value (a column repeats a few values:
    bands, flags, dates of one delivery)."""
    out = []
    seen: dict[object, object] = {}
    for index, value in enumerate(cells):
        try:
            out.append(seen[value])
            continue
        except (KeyError, TypeError):  # not seen yet, or unhashable
            pass
        try:
            coerced = _coerce(column, value, unit)
        except (ValueError, TypeError) as exc:
            raise _CellError(index, exc) from None
        out.append(coerced)
        try:
            seen[value] = coerced
        except TypeError:
            pass
    return out


def unknown_columns(table: RawTable) -> set[str]:
    return {n for n in table.columns if map_column(n)[0] is None and not ignored(n)}


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
    """Load every file, all or nothing: one bad file leaves the mirror as it was.

    On PostgreSQL each file's rows are COPYed into a staging table and merged in one statement
    (``queries.staging``), and a load as large as the mirror itself runs without the mirror's
    secondary indexes, built once after the hierarchy is derived (``queries.bulk_indexes``);
    into an empty mirror, built beside it (``_load_first``).
    """
    pending_indexes.build_abandoned()  # a killed first load's, before this one looks
    tables = [read_table(Path(p)) for p in paths]
    # Each file's rows normalised now, or (a delimited file ``arrow_load`` takes) None: its
    # rows stream into the mirror inside the transaction, counted here from the file's size.
    prepared = []
    incoming = 0
    for table in tables:
        if table.kind == "datalink":
            continue
        columns = None if _streams(table) else columns_from_table(table)
        prepared.append((table, columns))
        incoming += table.rows.estimated_rows() if columns is None else len(columns)
    if _first_load(incoming):
        return _load_first(tables, prepared)
    total = LoadResult()
    with transaction.atomic():
        # An empty mirror takes a streamed file by COPY straight into its table, the rows'
        # spectral windows into theirs (empty too: a window belongs to a row). Its projects
        # and member OUSs, created empty as the rows arrive (``hierarchy_sql.ids_for``), then
        # filled by the hierarchy, are indexed once after too (as many as the tables hold).
        into_mirror = bulk_indexes.is_postgresql() and not Observation.objects.exists()
        deferred = [(Observation, incoming)]
        if into_mirror:
            deferred += [(model, incoming) for model in (SpectralWindow, Project, MemberOUS)]
        with bulk_indexes.deferred(deferred, with_foreign_keys=True):
            windows = _load_rows(prepared, total, into_mirror=into_mirror)
            # Before the indexes come back: linking every row to its project and member OUS
            # rewrites it, which costs an entry in each index that exists by then. Into an
            # empty mirror every row is this load's: the whole hierarchy is derived, as the
            # harvest's first load does, with no list of 30,000 codes to test each row against.
            rebuild_hierarchy(None if into_mirror else total.proposal_ids, windows=windows)
        _load_datalinks(tables, total)
    forget_max_fov()
    log.info("loaded %d rows (%d new) from %d files", total.rows, total.created, total.files)
    return total


def _first_load(incoming: int) -> bool:
    """Whether this load fills an empty mirror (no observation, project or member OUS) with
    enough rows to defer the indexes: then it takes ``_load_first``."""
    return (
        bulk_indexes.worth_deferring(Observation, incoming)
        and not Observation.objects.exists()
        and not Project.objects.exists()
        and not MemberOUS.objects.exists()
    )


def _load_first(tables: list[RawTable], prepared: list) -> LoadResult:
    """A first load: the rows commit without the observation table's indexes, then those are
    built on a second connection while the hierarchy, its aggregates and the DataLink files
    are derived in one transaction on this one (``queries.pending_indexes``): on 2 cores the
    index builds no longer wait for the hierarchy, nor the hierarchy for them.

    Still all or nothing: should the derived work fail, or the load be killed before it
    commits, the mirror is emptied again (``pending_indexes.undo_first_load``), then indexed.
    """
    total = LoadResult()
    with pending_indexes.loading("load_archive", undo=pending_indexes.FIRST_LOAD) as load:
        with transaction.atomic():
            # The windows' too (written with the rows, or rebuilt from them), and the projects'
            # and member OUSs', created empty as the rows arrive, then filled by the hierarchy.
            load.drop([Observation, SpectralWindow, Project, MemberOUS])
            windows = _load_rows(prepared, total, into_mirror=True)
    record = load.record
    assert record is not None  # worth_deferring held: the drop was recorded

    def derive() -> None:
        with transaction.atomic():
            # Every row is this load's: the whole hierarchy, as the harvest's first load does.
            rebuild_hierarchy(None, windows=windows)
            # The projects' and member OUSs' indexes and keys here, beside the observations'
            # still building, rather than after them (and the hierarchy's writes) are done.
            bulk_indexes.build(load.dropped[Project] + load.dropped[MemberOUS])
            _load_datalinks(tables, total)
            pending_indexes.settle(record)

    pending_indexes.build_beside(record, derive, table=Observation._meta.db_table)
    forget_max_fov()
    log.info("loaded %d rows (%d new) from %d files", total.rows, total.created, total.files)
    return total


def _load_rows(prepared: list, total: LoadResult, *, into_mirror: bool) -> WindowsBy:
    """Every ObsCore file's rows into the mirror, counted in ``total``; how the hierarchy then
    gets the rows' spectral windows: "written" when every file wrote its rows' own
    (``arrow_load`` into an empty mirror), else "rebuild"."""
    written = bool(prepared)
    for table, columns in prepared:
        loaded = _load_table(table, columns, into_mirror=into_mirror)
        written = written and loaded.windows_written
        total.merge(loaded)
    return "written" if written else "rebuild"


def _load_datalinks(tables: list[RawTable], total: LoadResult) -> None:
    """The DataLink files' deliverables, after the hierarchy they attach to."""
    for table in tables:
        if table.kind == "datalink":
            total.datalink_files += load_datalink_table(table)
            total.files += 1


def _streams(table: RawTable) -> bool:
    """Whether ``table`` loads by ``arrow_load``'s fast path (a delimited file into
    PostgreSQL whose columns it takes). pyarrow is imported here only: nothing else needs it."""
    if not isinstance(table.rows, ArrowRows) or not bulk_indexes.is_postgresql():
        return False
    from queries.archive import arrow_load

    return arrow_load.takes(table)


def _load_table(table: RawTable, columns: Columns | None, *, into_mirror: bool) -> LoadResult:
    """One ObsCore file into the mirror: ``columns`` (normalised) or, None, streamed by
    ``arrow_load``; where that gives up, the exact path reads it again and loads it, or names
    the file, row and column that stop the load."""
    result = LoadResult(files=1, unknown_columns=unknown_columns(table))
    if columns is None:
        from queries.archive import arrow_load

        loaded = arrow_load.load(table, into_mirror=into_mirror)
        if loaded is not None:
            result.rows, result.created, result.updated = (
                loaded.rows,
                loaded.created,
                loaded.updated,
            )
            result.proposal_ids = loaded.proposal_ids
            result.windows_written = loaded.windows
            return result
        columns = columns_from_table(table)
    result.created, result.updated = _upsert_columns(columns)
    result.rows = len(columns)
    result.proposal_ids = set(columns.values["proposal_id"])
    return result


def _upsert_columns(columns: Columns) -> tuple[int, int]:
    """One file's normalised rows into the mirror: (created, updated)."""
    if not len(columns):
        return 0, 0
    if not bulk_indexes.is_postgresql():
        return upsert([Observation(**values) for values in columns.dicts()])
    # Staged with their links (projects and member OUSs created empty where new), so the
    # hierarchy rebuild after the load finds them right and rewrites no row.
    codes, uids = columns.values["proposal_id"], columns.values["member_ous_uid"]
    projects, mouses = hierarchy_sql.ids_for(set(zip(codes, uids, strict=True)))
    rows = [
        (*row, projects[code], mouses.get(uid))
        for row, code, uid in zip(staging.prepare(columns), codes, uids, strict=True)
    ]
    staging.stage(rows, linked=True)
    return staging.upsert_staged(linked=True)
