"""``load_archive``'s fast path for a CSV or TSV file into PostgreSQL: normalised a column at a
time with pyarrow, and sent by binary COPY laid out by Arrow and numpy (``pg_binary``).

Why: a million-row ObsCore CSV is ~70 million cells. Read by the ``csv`` module, passed one by
one through ``plain_text`` and the loader's converters, and sent as Python tuples by binary
COPY, they cost ~110 us a row of Python in one thread; the target is 50 us a row for the whole
load. Here the cells stay in Arrow arrays (C++; the reader uses both cores), Python sees only
the distinct values of the columns that need its rules, and while the next batch of the COPY
is laid out the server stores the previous one on the other core.

The loader's rules stay in ``queries.archive.loader`` and ``queries.archive.formats``: a cell
here is only ever
- taken as it is where ``plain_text`` and ``_coerce`` would return it unchanged (text with no
  blank or ``b'`` at either end, not a null spelling, within the column's length),
- read as a number by pyarrow's cast where ``_coerce`` calls ``float()`` (pyarrow accepts a
  subset of what ``float()`` accepts, and reads it to the same double: tests/queries/
  test_arrow_load.py; a column pyarrow refuses goes value by value through ``_coerce``),
- or given to ``plain_text`` and ``loader._coerce`` themselves, once per distinct value.
A file the exact path normalises a row at a time (no obs_id column, or two columns for one)
is not taken (``takes``). Whatever would need a message (a bad value, a row without obs_id or
project), or an obs_id in two blocks, makes the fast path give up: ``load`` rolls the file
back to its savepoint and answers None, and the caller takes the exact path (the ``csv``
module reads the file again, ``columns_from_table``), which names file, line and column as it
always has, or loads the file the slow way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db import IntegrityError, connection, models, transaction

from archiveportal.read_ahead import read_ahead
from queries import hierarchy_sql, staging, units
from queries.archive import pg_binary, written_windows
from queries.archive.arrow_windows import BlockWindows
from queries.archive.columns import ignored
from queries.archive.formats import NULL_TEXTS, ArrowRows, RawTable, plain_text
from queries.archive.loader import (
    _DEFAULTS,
    _FIELDS,
    _TEXT_RULES,
    _coerce,
    _file_name,
    _fill_identity_columns,
    map_column,
)
from queries.archive.written_windows import SequenceIds, copy_stream, copy_windows
from queries.errors import LoadError
from queries.names import name_key

_NULLS = pa.array(sorted(NULL_TEXTS), pa.string())


class _GiveUp(Exception):
    """A cell or row the fast path leaves to the exact one (it would need a message)."""


@dataclass
class Normalised:
    """A file's rows normalised: ``table`` has one column per ``staging.FIELDS`` field (by its
    database column name), each in the field's Arrow type; one row per obs_id."""

    table: pa.Table

    def __len__(self) -> int:
        return self.table.num_rows


@dataclass
class Loaded:
    """What ``load`` wrote of one file."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    proposal_ids: set[str] = field(default_factory=set)
    # The rows' spectral windows were written with them (``into_mirror``: see ``load``).
    windows: bool = False


def takes(table: RawTable) -> bool:
    """Whether the fast path can take ``table``: a delimited file (``ArrowRows``) whose columns
    map one to one and include obs_id (the exact path normalises any other a row at a time)."""
    if not isinstance(table.rows, ArrowRows) or "obs_id" not in table.columns:
        return False
    targets = [map_column(name)[0] for name in table.columns]
    targets = [column for column in targets if column is not None]
    return len(targets) == len(set(targets))


def normalise(table: RawTable) -> Normalised | None:
    """``loader.columns_from_table`` for a delimited file, the whole file at once (``load``
    streams it instead): the same values, or None where the exact path must decide (see the
    module doc)."""
    if not takes(table):
        return None
    try:
        blocks = [block for block in _normalised_blocks(table) if block.num_rows]
    except _GiveUp:
        return None
    if not blocks:
        empty = pa.table({name: pa.array([], pa.string()) for name in table.columns})
        return Normalised(_normalised(empty, _mapping(table), str(table.path)))
    return Normalised(_unique(pa.concat_tables(blocks)))


def load(table: RawTable, *, into_mirror: bool) -> Loaded | None:
    """``table``'s rows into the mirror, a block at a time: each block is parsed, normalised
    and laid out for binary COPY in a thread (``read_ahead``) while the server stores the one
    before, then linked to its projects and member OUSs (``hierarchy_sql.ids_for``) and COPYed.
    None, with nothing of the file written, when the fast path gives up: the caller takes the
    exact path. ``takes(table)`` must hold.

    ``into_mirror`` (the mirror was empty when the load began, so its secondary indexes are
    deferred): COPYed straight into the mirror's table, no staging table and no merge, each row
    with an id taken from the table's sequence beforehand and its spectral windows
    (``arrow_windows``, computed in the thread) COPYed after it (``Loaded.windows``: the caller
    need not rebuild them); a row already there (a second file with the same obs_id) rolls the
    file back and it takes the merge. Otherwise each block is COPYed into ``staging``'s table
    and merged by it, and the windows are left to ``rebuild_windows``.
    """
    try:
        with transaction.atomic():  # a savepoint: giving up leaves nothing of the file
            return _load(table, into_mirror=into_mirror)
    except _GiveUp:
        return None
    except IntegrityError:
        if not into_mirror:
            raise
    return load(table, into_mirror=False)


def _load(table: RawTable, *, into_mirror: bool) -> Loaded:

    names = [f.column for f in staging.FIELDS]
    types = _column_types(staging.TABLE)
    loaded = Loaded(windows=into_mirror)
    seen: set[str] = set()
    links = _Links()
    new_ids = SequenceIds() if into_mirror else None
    blocks = _laid_out_blocks(table, [types[n] for n in names], with_windows=into_mirror)
    for rows, laid_out, found in read_ahead(blocks):
        obs_ids = rows.column("obs_id").to_pylist()
        if not seen.isdisjoint(obs_ids):
            raise _GiveUp  # an obs_id in two blocks: the exact path keeps the last, in place
        seen.update(obs_ids)
        linked = pg_binary.laid_out(links.of(rows), [types[n] for n in staging.LINKS])
        if new_ids is not None:
            ids = new_ids.take(rows.num_rows)
            stream = pg_binary.stream(
                1 + len(staging.LINKS) + len(names),
                pg_binary.laid_out(pa.table({"id": ids}), [types["id"]]),
                linked,
                laid_out,
            )
            copy_stream(staging.TABLE, ["id", *staging.LINKS, *names], stream)
            copy_windows(ids, found)
            loaded.created += rows.num_rows
        else:
            stream = pg_binary.stream(len(staging.LINKS) + len(names), linked, laid_out)
            staging.stage([], linked=True)  # the empty staging table, as ``stage`` defines it
            copy_stream(staging.STAGE, staging.LINKS + names, stream)
            created, updated = staging.upsert_staged(linked=True)
            loaded.created += created
            loaded.updated += updated
        loaded.rows += rows.num_rows
        loaded.proposal_ids.update(pc.unique(rows.column("proposal_id")).to_pylist())
    return loaded


def _laid_out_blocks(
    table: RawTable, oids: list[int], *, with_windows: bool
) -> Iterator[tuple[pa.Table, pa.Array, written_windows.Found | None]]:
    """Each block normalised, its rows laid out for binary COPY and, ``with_windows``, its
    spectral windows (each one's row in the block, and its range and channel laid out), or None
    (no database access: this runs in the read-ahead thread, while a thread of its own parses
    the next block)."""
    windows = BlockWindows() if with_windows else None
    for rows in _normalised_blocks(table, parse_ahead=True):
        if not rows.num_rows:
            continue
        found = None
        if windows is not None:
            found = written_windows.laid_out(windows, rows)
        yield rows, pg_binary.laid_out(rows, oids), found


def _normalised_blocks(table: RawTable, *, parse_ahead: bool = False) -> Iterator[pa.Table]:

    mapping, path = _mapping(table), str(table.path)
    blocks = read_ahead(table.rows.blocks()) if parse_ahead else table.rows.blocks()
    while True:
        try:
            batch = next(blocks)
        except StopIteration:
            return
        except pa.ArrowInvalid:
            raise _GiveUp from None  # a ragged row, bytes that are not UTF-8...
        yield _normalised(pa.Table.from_batches([batch]), mapping, path)


def _mapping(table: RawTable) -> dict[str, tuple[str | None, str]]:
    return {name: map_column(name) for name in table.columns}


def _column_types(table: str) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attnum > 0 AND NOT attisdropped",
            [table],
        )
        return dict(cursor.fetchall())


def _normalised(cells: pa.Table, mapping: dict[str, tuple[str | None, str]], path: str) -> pa.Table:
    n = cells.num_rows
    out: dict[str, pa.Array | pa.ChunkedArray] = {}
    unknown = []
    for name, (column, unit) in mapping.items():
        if column is None:
            if not ignored(name):
                unknown.append(name)
            continue
        out[column] = _column(column, unit, cells.column(name))
    _identity(out, n, path)
    ra, dec = out.get("s_ra"), out.get("s_dec")
    if ra is not None and dec is not None:
        out["s_x"], out["s_y"], out["s_z"] = _unit_vectors(ra, dec)
    out["band_mask"] = _derived(out.get("band_list"), units.band_mask, pa.int64(), n)
    out["target_name_key"] = _derived(out.get("target_name"), name_key, pa.string(), n)
    out["extra"] = _extra(cells, unknown, n)
    out["source_file"] = pa.repeat(pa.scalar(_file_name(path)), n)
    for name, default in _DEFAULTS.items():
        if name not in out:
            out[name] = pa.repeat(pa.scalar(default, _arrow_type(_FIELDS[name])), n)
    return _unique(pa.table({f.column: out[f.name] for f in staging.FIELDS}))


def _unique(table: pa.Table) -> pa.Table:
    """One row per obs_id: a later duplicate replaces the earlier one in its place
    (``loader._unique``, which this follows step by step)."""
    if pc.count_distinct(table.column("obs_id")).as_py() == table.num_rows:
        return table
    ids = table.column("obs_id").to_pylist()
    last = {obs_id: i for i, obs_id in enumerate(ids)}
    return table.take([last[obs_id] for obs_id in dict.fromkeys(ids)])


def _arrow_type(field: models.Field) -> pa.DataType:
    if isinstance(field, models.FloatField):
        return pa.float64()
    if isinstance(field, models.IntegerField | models.BigIntegerField):
        return pa.int64()
    if isinstance(field, models.DateTimeField):
        return pa.timestamp("us", tz="UTC")
    return pa.string()  # text, and extra (jsonb) as its JSON text


def _column(column: str, unit: str, cells: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """One file column (raw cells) as the mirror column ``column``."""
    field = _FIELDS[column]
    if not unit and column not in _TEXT_RULES:
        if isinstance(field, models.CharField | models.TextField):
            text = pc.fill_null(_plain(cells), "")  # _coerce: None -> "" for text
            limit = field.max_length
            if not limit or (pc.max(pc.utf8_length(text)).as_py() or 0) <= limit:
                return text
        elif isinstance(field, models.FloatField):
            try:
                return pc.cast(_plain(cells), pa.float64())
            except pa.ArrowInvalid:
                pass  # e.g. "1_000" or a truncated "1.5...": value by value below
    return _each_distinct(cells, lambda value: _coerce(column, plain_text(value), unit), field)


def _plain(cells: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """``plain_text`` of every cell: a null spelling becomes null, a cell with an odd edge (see
    ``_odd_edges``) goes through ``plain_text`` itself, any other cell is already plain."""
    nulls = pc.is_in(cells, value_set=_NULLS)
    odd = pa.chunked_array([_odd_edges(chunk) for chunk in cells.chunks], pa.bool_())
    plain = (
        pc.if_else(nulls, pa.scalar(None, pa.string()), cells) if pc.any(nulls).as_py() else cells
    )
    if not pc.any(odd).as_py():
        return plain
    odd = _whole(pc.and_not(odd, nulls))
    plain = _whole(plain)
    fixed = [plain_text(value) for value in plain.filter(odd).to_pylist()]
    return pc.replace_with_mask(plain, odd, pa.array(fixed, pa.string()))


def _odd_edges(chunk: pa.StringArray) -> np.ndarray:
    """Which cells of ``chunk`` ``plain_text`` might change, read from the bytes at their edges:
    a first or last byte that is a blank or not printable ASCII (all ``str.strip`` removes, and
    any non-ASCII character), or a first ``b`` (a ``b'...'`` literal). A superset; the empty
    cell is a null spelling, found apart. Computed on Arrow's buffers: a pass of
    ``pc.utf8_slice_codeunits`` to find the last character costs ten times as much."""
    n = len(chunk)
    offsets = np.frombuffer(chunk.buffers()[1], np.int32)[chunk.offset : chunk.offset + n + 1]
    starts, ends = offsets[:-1], offsets[1:]
    filled = ends > starts
    if not filled.any():
        return np.zeros(n, bool)
    data = np.frombuffer(chunk.buffers()[2], np.uint8)
    first = data[np.where(filled, starts, 0)]
    last = data[np.where(filled, ends - 1, 0)]
    odd = (first < 0x21) | (first > 0x7E) | (first == ord("b")) | (last < 0x21) | (last > 0x7E)
    return odd & filled


def _whole(array: pa.ChunkedArray | pa.Array) -> pa.Array:
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _each_distinct(
    cells: pa.ChunkedArray | pa.Array, convert: Callable[[object], object], field: models.Field
) -> pa.ChunkedArray | pa.Array:
    """``convert`` (the loader's rules) once per distinct cell; a ValueError gives up."""
    distinct = pc.unique(cells)
    try:
        values = [convert(value) for value in distinct.to_pylist()]
    except (ValueError, TypeError):
        raise _GiveUp from None
    converted = pa.array(values, _arrow_type(field))
    return pc.take(converted, pc.index_in(cells, value_set=distinct))


def _derived(
    source: pa.ChunkedArray | pa.Array | None,
    derive: Callable[[str], object],
    kind: pa.DataType,
    n: int,
) -> pa.ChunkedArray | pa.Array:
    """``derive(value or "")`` for every row, once per distinct value (``loader._derived``)."""
    if source is None:
        return pa.repeat(pa.scalar(derive(""), kind), n)
    distinct = pc.unique(source)
    converted = pa.array([derive(value or "") for value in distinct.to_pylist()], kind)
    return pc.take(converted, pc.index_in(source, value_set=distinct))


def _identity(out: dict, n: int, path: str) -> None:
    """Every row has an obs_id and a project, read from obs_publisher_did where the
    file has none (``loader._fill_identity_columns``); otherwise give up to the exact path."""
    ids = out["obs_id"]
    if n and pc.any(pc.equal(ids, "")).as_py():
        raise _GiveUp
    proposals = out.get("proposal_id")
    if proposals is not None and not (n and pc.any(pc.equal(proposals, "")).as_py()):
        return
    columns = {
        name: out[name].to_pylist()
        for name in ("proposal_id", "obs_publisher_did", "obs_id")
        if name in out
    }
    try:
        _fill_identity_columns(columns, n, numbers=list(range(n)), path=path)
    except LoadError:
        raise _GiveUp from None
    out["proposal_id"] = pa.array(columns["proposal_id"], pa.string())


def _unit_vectors(ra, dec) -> tuple[pa.Array, pa.Array, pa.Array]:
    """``units.unit_vector`` of each row's position, once per distinct position (Python's
    ``math``, as every other writer of the mirror computes it)."""
    seen: dict[tuple, tuple] = {}
    vectors = []
    for position in zip(ra.to_pylist(), dec.to_pylist(), strict=True):
        vector = seen.get(position)
        if vector is None:
            a, d = position
            vector = (None, None, None) if a is None or d is None else units.unit_vector(a, d)
            seen[position] = vector
        vectors.append(vector)
    return tuple(pa.array([v[axis] for v in vectors], pa.float64()) for axis in range(3))  # type: ignore[return-value]


def _extra(cells: pa.Table, unknown: list[str], n: int) -> pa.Array:
    """``Observation.extra`` as JSON text (as ``staging.prepare`` dumps it): the columns the
    mirror does not model, per row, as ``loader._columns_one_to_one`` keeps them."""
    if not unknown:
        return pa.repeat(pa.scalar("{}"), n)
    texts = []
    columns = [map(plain_text, cells.column(name).to_pylist()) for name in unknown]
    for values in zip(*columns, strict=True):
        extra = {name: str(v) for name, v in zip(unknown, values, strict=True) if v is not None}
        texts.append(json.dumps(extra) if extra else "{}")
    return pa.array(texts, pa.string())


class _Links:
    """Each row's ``staging.LINKS``: the ids of its project and member OUS, as
    ``loader._upsert_columns`` links them (``hierarchy_sql.ids_for`` creates the missing ones
    empty). A file's blocks share their projects: each (project, member OUS) pair is asked for
    once per file, not once per block (26 blocks of a 1M-row file took 4 s asking again)."""

    def __init__(self) -> None:
        self.asked: set[tuple[str, str]] = set()
        self.projects: dict[str, int] = {}
        self.mouses: dict[str, int] = {}

    def of(self, rows: pa.Table) -> pa.Table:
        codes, uids = rows.column("proposal_id"), rows.column("member_ous_uid")
        pairs = pa.table({"code": codes, "uid": uids}).group_by(["code", "uid"]).aggregate([])
        pairs = zip(pairs.column("code").to_pylist(), pairs.column("uid").to_pylist(), strict=True)
        new = [pair for pair in pairs if pair not in self.asked]
        if new:
            projects, mouses = hierarchy_sql.ids_for(new)
            self.projects.update(projects)
            self.mouses.update(mouses)
            self.asked.update(new)
        return pa.table(
            {
                staging.LINKS[0]: _lookup(codes, self.projects),
                staging.LINKS[1]: _lookup(uids, self.mouses),
            }
        )


def _lookup(keys: pa.ChunkedArray, ids: dict[str, int]) -> pa.ChunkedArray:
    """``ids.get(key)`` of every key (null where missing)."""
    distinct = pc.unique(keys)
    found = pa.array([ids.get(key) for key in distinct.to_pylist()], pa.int64())
    return pc.take(found, pc.index_in(keys, value_set=distinct))
