"""The whole result of a search as CSV, TSV or VOTable, with each column's unit, streamed.

Values are written in the mirror's (ObsCore's) units, which the header states:
``frequency [GHz]`` in CSV/TSV, the FIELD ``unit`` attribute in VOTable. VOTable columns are
typed from the mirror's schema (the ``Observation`` field behind each column), never from the
values, so an empty result still has its numbers as ``double`` and its text as ``char``.

An export is never held whole in memory: rows come from a server-side (named) cursor on
PostgreSQL, declared inside the transaction opened here so nothing is materialised on the
server either, ``CHUNK_ROWS`` at a time (``QuerySet.iterator`` elsewhere), and leave as byte
chunks while the next ones are read. CSV and TSV without a target column are written by
PostgreSQL itself (``COPY (SELECT ...) TO STDOUT``, ``copied``): the server formats the text the
Python writer would (instants in ISO 8601, empty nulls, shortest round-trip numbers), and Python
only passes the bytes on. There is no row cap but ``QUERIES_EXPORT_MAX_ROWS``
(default none). Exports are metadata, which every member may read (``downloads.access``):
the same rows the result pages list, and nothing of the files. A search over a target list
ends with its ``target`` column (``labelled``), computed per chunk from the rows' own positions.
"""

from __future__ import annotations

import contextlib
import csv
import io
import queue
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, models, transaction
from django.db.models import CharField, F, Func, Q, QuerySet

from archiveportal import votable
from queries.models import Observation
from queries.units import CANONICAL_UNITS

CONTENT_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "votable": "application/x-votable+xml",
}
EXTENSIONS = {"csv": "csv", "tsv": "tsv", "votable": "xml"}
ORDER = ("proposal_id", "obs_id")
CHUNK_ROWS = 2000  # rows per fetch from the cursor and per chunk of delimited text
COPY_CHUNK_BYTES = 256 * 1024  # bytes of PostgreSQL's COPY output gathered per chunk sent
TARGET = "target"  # the column a target list adds (not an Observation field)
POSITION = ("obs_id", "s_ra", "s_dec", "s_fov")  # what its labels are computed from
# Model field -> VOTable datatype; anything else (text, dates as ISO 8601) is char.
_DATATYPES = {
    models.FloatField: "double",
    models.IntegerField: "long",
    models.BigIntegerField: "long",
    models.BooleanField: "boolean",
}


@dataclass(frozen=True)
class Export:
    """What the view sends: the body as chunks, and whether ``max_rows`` cut the result."""

    chunks: Iterator[bytes]
    truncated: bool


def rows(q: Q, names: Sequence[str], *, max_rows: int | None = None) -> Iterator[tuple]:
    """The matching observations' ``names`` columns in export order, fetched in chunks.

    The transaction is what keeps PostgreSQL's cursor a plain streaming one: outside of one
    (autocommit) Django declares it ``WITH HOLD``, which copies the whole result on commit.
    """
    queryset = Observation.objects.filter(q).order_by(*ORDER).values_list(*names)
    if max_rows is not None:
        queryset = queryset[:max_rows]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            yield from _binary_rows(queryset)
        else:
            yield from queryset.iterator(chunk_size=CHUNK_ROWS)


def _binary_rows(queryset: QuerySet) -> Iterator[tuple]:
    """``queryset``'s rows from a named cursor in PostgreSQL's binary format, read ahead.

    Why not ``QuerySet.iterator`` (also a named cursor): it asks for text, and parsing the
    text of 15 doubles a row took three quarters of the fetch's CPU (200,000 rows: 2.4 s of
    CPU as text, 0.6 s binary). The values are the same Python objects either way (the exact
    doubles, the same aware datetimes) and ``Observation`` has no ``from_db_value`` to skip.
    """
    sql, params = queryset.query.sql_with_params()
    connection.ensure_connection()
    name = f"export_{uuid.uuid4().hex}"
    with (
        connection.wrap_database_errors,
        connection.connection.cursor(name=name, binary=True) as cursor,
    ):
        cursor.execute(sql, params)
        for batch in _read_ahead(lambda: cursor.fetchmany(CHUNK_ROWS)):
            yield from batch


def _read_ahead(fetch: Callable[[], list[tuple]]) -> Iterator[list[tuple]]:
    """The batches ``fetch`` returns until an empty one, fetched one ahead in a thread.

    Why: a cursor only reads when asked, so without this the database's time (1M rows: about
    10 s of index scan) and the writer's (about 11 s formatting CSV) add up; with it they
    overlap on two cores. The thread is the cursor's only user while it runs and has stopped
    before this generator returns, however it ends (exhausted, error, client gone), so the
    cursor is closed and the transaction ended after the last fetch, never during one.
    """
    slot: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            while not stop.is_set():
                batch = fetch()
                while not stop.is_set():
                    try:
                        slot.put(("batch", batch), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if not batch:
                    return
        except BaseException as exc:  # raised in the consumer, after the batches before it
            slot.put(("error", exc))

    thread = threading.Thread(target=produce, name="export-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = slot.get()
            if kind == "error":
                raise item
            if not item:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                slot.get_nowait()  # frees a producer blocked on a full slot
            thread.join(0.05)


def is_cut(q: Q, *, max_rows: int | None) -> bool:
    """Whether more than ``max_rows`` observations match (one indexed probe, no count)."""
    if max_rows is None:
        return False
    return Observation.objects.filter(q).order_by(*ORDER)[max_rows : max_rows + 1].exists()


def header(names: Sequence[str]) -> list[str]:
    return [f"{n} [{CANONICAL_UNITS[n]}]" if n in CANONICAL_UNITS else n for n in names]


def _instants(names: Sequence[str]) -> list[int]:
    return [
        i
        for i, n in enumerate(names)
        if n != TARGET and isinstance(Observation._meta.get_field(n), models.DateTimeField)
    ]


def stream_delimited(
    values: Iterable[Sequence[object]], names: Sequence[str], *, delimiter: str
) -> Iterator[bytes]:
    """CSV/TSV in chunks: ``csv`` writes ``None`` as an empty field and numbers by ``repr``;
    only instants need writing by hand (ISO 8601, ``T`` between date and time)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header(names))
    instants = _instants(names)
    batch: list[Sequence[object]] = []
    for row in values:
        if instants:
            row = list(row)
            for i in instants:
                if isinstance(row[i], datetime):
                    row[i] = row[i].isoformat()
        batch.append(row)
        if len(batch) >= CHUNK_ROWS:
            writer.writerows(batch)
            batch = []
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    writer.writerows(batch)
    yield buffer.getvalue().encode()


def votable_field(name: str) -> votable.Field:
    """The FIELD of mirror column ``name``: its type from the model, its unit from ``units``."""
    if name == TARGET:
        return votable.Field(TARGET, "char", description="the targets of the list matched")
    datatype = _DATATYPES.get(type(Observation._meta.get_field(name)), "char")
    return votable.Field(name, datatype, unit=CANONICAL_UNITS.get(name, ""))


def stream_votable(values: Iterable[Sequence[object]], names: Sequence[str]) -> Iterator[bytes]:
    # Values as stored: the one VOTable writer formats instants and booleans as TAP does.
    return votable.stream([votable_field(n) for n in names], values)


def stream(values: Iterable[Sequence[object]], names: Sequence[str], fmt: str) -> Iterator[bytes]:
    if fmt == "votable":
        return stream_votable(values, names)
    return stream_delimited(values, names, delimiter="\t" if fmt == "tsv" else ",")


def target_labeller(parsed) -> Callable[[list[tuple]], dict[str, str]] | None:
    """Labels for rows of (obs_id, s_ra, s_dec, s_fov) when a field of the search labels the
    rows it matched (a target list: ``kinds.Targets.labels_at``), else None."""
    for spec, node in parsed.items():
        labels_at = getattr(spec.kind, "labels_at", None)
        if labels_at is not None:
            return lambda positions, spec=spec, node=node: labels_at(spec, node, positions)
    return None


def labelled(
    values: Iterable[Sequence[object]],
    names: Sequence[str],
    labeller: Callable[[list[tuple]], dict[str, str]],
) -> Iterator[tuple]:
    """``values`` with the ``target`` label appended, computed a chunk at a time."""
    at = [list(names).index(n) for n in POSITION]
    batch: list[Sequence[object]] = []

    def flush() -> Iterator[tuple]:
        labels = labeller([tuple(row[i] for i in at) for row in batch])
        for row in batch:
            yield (*row, labels.get(row[at[0]], ""))

    for row in values:
        batch.append(row)
        if len(batch) >= CHUNK_ROWS:
            yield from flush()
            batch = []
    yield from flush()


class _IsoInstant(Func):
    """An instant as ``datetime.isoformat`` writes Django's aware UTC values:
    ``2024-03-01T12:30:00+00:00``, with ``.ffffff`` only when there are microseconds."""

    template = (
        "(replace(to_char(%(expressions)s AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '') || '+00:00')"
    )
    output_field = CharField()


def copied(
    q: Q, names: Sequence[str], *, delimiter: str, max_rows: int | None = None
) -> Iterator[bytes]:
    """CSV/TSV of the matching observations, header included, written by PostgreSQL's COPY.

    Why: on 1M rows the Python writer cost 11-14 s of CPU on top of the fetch; COPY formats in
    the server while the rows are read, and Python forwards ``COPY_CHUNK_BYTES`` blocks. The
    cells equal ``stream_delimited``'s (a test compares both): instants through
    ``_IsoInstant``, numbers in shortest round-trip form (``extra_float_digits = 1``, so a
    whole double reads ``5``, not ``5.0``), nulls as empty fields. Run inside a transaction,
    so that a client gone mid-export ends the COPY with it (the connection cancels it).
    """
    instants = {names[i] for i in _instants(names)}
    columns = {f"c{i}": (_IsoInstant(F(n)) if n in instants else F(n)) for i, n in enumerate(names)}
    queryset = (
        Observation.objects.filter(q).order_by(*ORDER).annotate(**columns).values_list(*columns)
    )
    if max_rows is not None:
        queryset = queryset[:max_rows]
    sql, params = queryset.query.sql_with_params()
    options = "FORMAT csv" + (", DELIMITER E'\\t'" if delimiter == "\t" else "")
    head = io.StringIO()
    csv.writer(head, delimiter=delimiter, lineterminator="\n").writerow(header(names))
    yield head.getvalue().encode()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL extra_float_digits = 1")
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH ({options})", params) as copy:
            pending: list[bytes] = []
            size = 0
            for block in copy:
                pending.append(bytes(block))
                size += len(block)
                if size >= COPY_CHUNK_BYTES:
                    yield b"".join(pending)
                    pending, size = [], 0
            if pending:
                yield b"".join(pending)


def export(
    q: Q,
    names: Sequence[str],
    fmt: str,
    *,
    max_rows: int | None,
    labeller: Callable[[list[tuple]], dict[str, str]] | None = None,
) -> Export:
    """The export of the observations matching ``q`` in ``fmt``; rows are read only as the
    chunks are consumed. With ``labeller`` (``target_labeller``) a last ``target`` column."""
    truncated = is_cut(q, max_rows=max_rows)
    if fmt in ("csv", "tsv") and labeller is None and connection.vendor == "postgresql":
        delimiter = "\t" if fmt == "tsv" else ","
        return Export(copied(q, names, delimiter=delimiter, max_rows=max_rows), truncated)
    values: Iterable[Sequence[object]] = rows(q, names, max_rows=max_rows)
    if labeller is not None:
        values = labelled(values, names, labeller)
        names = [*names, TARGET]
    return Export(chunks=stream(values, names, fmt), truncated=truncated)
