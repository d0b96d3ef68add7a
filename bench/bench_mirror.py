#!/usr/bin/env python
"""Benchmark of the mirror: load a synthetic ALMA archive, then time the common searches.

    .venv/bin/python bench/bench_mirror.py --rows 1000000            # the full benchmark
    .venv/bin/python bench/bench_mirror.py --quick                   # 100,000 rows
    .venv/bin/python bench/bench_mirror.py --reuse --explain         # skip the load, show plans

It creates the bench database if it is missing (default
postgres://postgres@127.0.0.1:5432/ap_bench), migrates it, times ``synth_archive`` (rows/s),
runs VACUUM ANALYZE and CLUSTER (the table ordered by sky zone, see
``queries/migrations/0002_postgres_search_indexes.py``), then times each search as a result page
(first 50 rows) plus its exact count, through the Django ORM and as bare SQL, and prints p50 and
p95 in milliseconds. Everything is bounded: it stops by itself after the last query.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ap_bench"
PAGE = 50

# A crowded field (Orion KL), a 0.2 deg cone and Band 6: the search ALMA users run most.
CONE_RA, CONE_DEC, CONE_R, CONE_BAND = 83.8221, -5.3911, 0.2, 6
# An empty patch in the same declination strip: the plan must not walk the obs_id index.
EMPTY_RA = 200.0
# Largest s_fov/2 the data holds, deg: the s_dec prefilter must not drop a wide mosaic.
MAX_HALF_FOV = 0.15
FREQ_RANGE = (230.0, 250.0)  # GHz; about 100k rows of 1M
TEXT = "protostellar outflows"
NAME_KEY, NAME_PART = "ngc1068", "1068"  # target_name_key as queries.names.name_key makes it
# Session settings --tuned applies (bench/README.md says why; production sets them in the server
# or in the connection's options).
TUNED = {"jit": "off", "random_page_cost": "1.1", "max_parallel_workers_per_gather": "0"}
# (label, search, how the page is fetched): what the table prints, in order. "page" is
# ORDER BY obs_id LIMIT 50 + count; "count_first" see count_first_page; "project" project mode.
CASES = (
    ("cone 0.2 deg + band 6 (Orion)", "cone", "page"),
    ("  same, s_dec prefilter only", "cone_dec", "page"),
    ("  same, s_dec only, count first", "cone_dec", "count_first"),
    ("cone, empty field, Orion's decl.", "empty", "page"),
    ("  same, s_dec prefilter only", "empty_dec", "page"),
    ("  same, s_dec only, count first", "empty_dec", "count_first"),
    ("project code", "code", "page"),
    ("source name ngc1068 (exact key)", "name", "page"),
    ("source name *1068*", "name_like", "page"),
    (f"frequency {FREQ_RANGE[0]:g}-{FREQ_RANGE[1]:g} GHz", "freq", "page"),
    ("title/abstract text", "text", "page"),
    ("project view: the Orion cone", "cone", "project"),
    ("project view: band 6 (MOUS), all sky", "band", "project"),
)
# synth_archive into PostgreSQL with every index in place at the end (issue 13, target 6).
LOAD_TARGET_ROWS_PER_S = 20_000
# count_first pages from the index below this many matches (see count_first_page).
TWO_STEP_MAX = 20_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000, help="ObsCore rows (default 1,000,000)")
    p.add_argument("--quick", action="store_true", help="100,000 rows and fewer repeats")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    p.add_argument("--repeat", type=int, default=None, help="timed runs per query (default 25)")
    p.add_argument("--reuse", action="store_true", help="keep the rows already loaded")
    p.add_argument("--no-cluster", action="store_true", help="skip CLUSTER after the load")
    p.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each query")
    p.add_argument(
        "--tuned",
        action="store_true",
        help="time with the session settings bench/README.md recommends (TUNED: jit off, "
        "random_page_cost 1.1, no parallel workers) instead of the server's",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.rows = 100_000 if args.rows == 1_000_000 else args.rows
        args.repeat = args.repeat or 10
    args.repeat = args.repeat or 25
    if args.rows < 1:
        p.error("--rows: must be 1 or more")
    if args.repeat < 1:
        p.error("--repeat: must be 1 or more")
    return args


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in ``url`` if it does not exist."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        return
    import psycopg
    from psycopg import sql

    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance.replace("postgres://", "postgresql://", 1)) as conn:
        conn.autocommit = True
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    # The tests' settings: production settings with a throw-away key, nothing secret needed.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


@dataclass
class Timing:
    p50: float
    p95: float
    result: int


def timed(fn: Callable[[], int], repeat: int) -> Timing:
    fn()  # warm-up: plans and pages in cache, as for a member paging through results
    samples, result = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - t0) * 1000.0)
    samples.sort()
    p95 = samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)]
    return Timing(statistics.median(samples), p95, result)


def cone_terms(ra: float, dec: float, radius: float, *, ra_box: bool) -> dict:
    """Unit vector, radius and the prefilter box; ``ra_lo``/``ra_hi`` None when RA is open."""
    r, d = math.radians(ra), math.radians(dec)
    margin = radius + MAX_HALF_FOV
    terms = {
        "x0": math.cos(d) * math.cos(r),
        "y0": math.cos(d) * math.sin(r),
        "z0": math.sin(d),
        "r": radius,
        "dec_lo": max(-90.0, dec - margin),
        "dec_hi": min(90.0, dec + margin),
        "ra_lo": None,
        "ra_hi": None,
    }
    if ra_box and abs(dec) + margin < 89.0:
        half = margin / math.cos(math.radians(abs(dec) + margin))
        if half < 180.0:
            # Wrapped at 0/360 when lo > hi: s_ra >= lo OR s_ra <= hi.
            terms["ra_lo"], terms["ra_hi"] = (ra - half) % 360.0, (ra + half) % 360.0
    return terms


def orm_searches(cones: dict[str, dict], code: str) -> dict[str, Callable]:
    """Each search as the portal builds it with the ORM; returns the queryset."""
    from django.db.models import F, Q, Value
    from django.db.models.functions import Cos, Radians

    from queries.models import MemberOUS, Observation, Project

    def cone_band(terms: dict) -> Callable:
        def build():
            qs = Observation.objects.filter(s_dec__range=(terms["dec_lo"], terms["dec_hi"]))
            lo, hi = terms["ra_lo"], terms["ra_hi"]
            if lo is not None:
                qs = qs.filter(
                    Q(s_ra__gte=lo, s_ra__lte=hi) if lo <= hi else Q(s_ra__gte=lo) | Q(s_ra__lte=hi)
                )
            return qs.alias(
                dot=F("s_x") * terms["x0"] + F("s_y") * terms["y0"] + F("s_z") * terms["z0"],
                reach=Cos(Radians(Value(terms["r"]) + F("s_fov") / 2)),
                band=F("band_mask").bitand(1 << CONE_BAND),
            ).filter(dot__gte=F("reach"), band__gt=0)

        return build

    def text():
        projects = Project.objects.filter(Q(title__icontains=TEXT) | Q(abstract__icontains=TEXT))
        return Observation.objects.filter(project__in=projects.values("id"))

    def band_mous():
        # Band is a member OUS aggregate: project mode filters the member OUSs themselves.
        bit = F("band_mask").bitand(1 << CONE_BAND)
        return MemberOUS.objects.alias(b=bit).filter(b__gt=0)

    return {
        **{name: cone_band(terms) for name, terms in cones.items()},
        "code": lambda: Observation.objects.filter(proposal_id=code),
        "name": lambda: Observation.objects.filter(target_name_key__iexact=NAME_KEY),
        "name_like": lambda: Observation.objects.filter(target_name_key__icontains=NAME_PART),
        "freq": lambda: Observation.objects.filter(frequency__range=FREQ_RANGE),
        "text": text,
        "band": band_mous,
    }


def orm_project_view(obs_qs):
    """Project mode: one row per project, aggregated from the member OUSs the search matched."""
    from django.db.models import Count, Max, Min, Sum

    from queries.models import MemberOUS

    if obs_qs.model is MemberOUS:
        mous = obs_qs
    else:
        # Two steps: the member OUS ids first (index-only on obs_sky_cover), then aggregate a
        # known list. As one subquery the planner cannot estimate the dot product's selectivity
        # and hashes every member OUS and project (40 ms instead of a few).
        ids = list(obs_qs.values_list("member_ous_id", flat=True).distinct())
        mous = MemberOUS.objects.filter(id__in=ids)
    return (
        mous.values("project__code", "project__title", "project__pi_name")
        .annotate(
            n_mous=Count("id"),
            n_obs=Sum("n_observations"),
            first=Min("t_min"),
            release=Max("release_date"),
        )
        .order_by("project__code")
    )


def count_first_page(qs) -> int:
    """Count (index-only), then pick the page from the sky index's (obs_id, id) pairs.

    ``ORDER BY obs_id LIMIT 50`` lets the planner walk the obs_id index and filter every heap
    row, which is fast when matches are dense and takes over a second when the cone is empty.
    Below ``TWO_STEP_MAX`` matches the page comes from the index-only pairs instead (Python's
    order is the database's here: the bench database's collation is C.UTF-8, code points).
    """
    from queries.models import Observation

    n = qs.count()
    if n <= TWO_STEP_MAX:
        ids = [pk for _, pk in sorted(qs.values_list("obs_id", "id"))[:PAGE]]
        list(Observation.objects.filter(id__in=ids).order_by("obs_id"))
    else:
        list(qs.order_by("obs_id")[:PAGE])
    return n


def run_orm(qs_fn: Callable, *, mode: str = "page") -> Callable[[], int]:
    def page_and_count() -> int:
        qs = qs_fn()
        if mode == "project":
            view = orm_project_view(qs)
            list(view[:PAGE])
            return view.count()
        if mode == "count_first":
            return count_first_page(qs)
        list(qs.order_by("obs_id")[:PAGE])
        return qs.count()

    return page_and_count


SQL_CONE = (
    "s_dec BETWEEN %(dec_lo)s AND %(dec_hi)s"
    " AND s_x * %(x0)s + s_y * %(y0)s + s_z * %(z0)s >= cos(radians(%(r)s + s_fov / 2))"
    " AND (band_mask & %(bit)s) > 0"
)
# As Django's icontains writes it, so the UPPER(...) trigram indexes apply to both.
SQL_TEXT = (
    "project_id IN (SELECT id FROM queries_project"
    " WHERE UPPER(title) LIKE UPPER(%(like)s) OR UPPER(abstract) LIKE UPPER(%(like)s))"
)
SQL_PROJECT_VIEW = (
    "SELECT p.code, p.title, p.pi_name, count(*), sum(m.n_observations), min(m.t_min),"
    " max(m.release_date)"
    " FROM queries_memberous m JOIN queries_project p ON p.id = m.project_id"
    " WHERE {where} GROUP BY p.id ORDER BY p.code LIMIT 50"
)
SQL_PROJECT_COUNT = "SELECT count(DISTINCT m.project_id) FROM queries_memberous m WHERE {where}"


def sql_cone(terms: dict) -> tuple[str, dict]:
    params = {**terms, "bit": 1 << CONE_BAND}
    lo, hi = terms["ra_lo"], terms["ra_hi"]
    if lo is None:
        return SQL_CONE, params
    ra = (
        "s_ra BETWEEN %(ra_lo)s AND %(ra_hi)s"
        if lo <= hi
        else "(s_ra >= %(ra_lo)s OR s_ra <= %(ra_hi)s)"
    )
    return f"{SQL_CONE} AND {ra}", params


def sql_searches(cones: dict[str, dict], code: str) -> dict[str, tuple[str, dict]]:
    params = {"bit": 1 << CONE_BAND, "code": code, "like": f"%{TEXT}%", "name": NAME_KEY}
    params["name_like"] = f"%{NAME_PART}%"
    params["f_lo"], params["f_hi"] = FREQ_RANGE
    return {
        **{name: sql_cone(terms) for name, terms in cones.items()},
        "code": ("proposal_id = %(code)s", params),
        "name": ("UPPER(target_name_key) = UPPER(%(name)s)", params),
        "name_like": ("UPPER(target_name_key) LIKE UPPER(%(name_like)s)", params),
        "freq": ("frequency BETWEEN %(f_lo)s AND %(f_hi)s", params),
        "text": (SQL_TEXT, params),
        "band": ("MOUS:(m.band_mask & %(bit)s) > 0", params),
    }


def run_sql(where: str, params: dict, *, project_mode: bool = False) -> Callable[[], int]:
    from django.db import connection

    params = dict(params)
    ids_sql = ""
    if project_mode:
        if where.startswith("MOUS:"):  # a constraint on member OUS aggregates
            mous_where = where.removeprefix("MOUS:")
        else:
            ids_sql = f"SELECT DISTINCT member_ous_id FROM queries_observation WHERE {where}"
            mous_where = "m.id = ANY(%(mous_ids)s)"
        page_sql = SQL_PROJECT_VIEW.format(where=mous_where)
        count_sql = SQL_PROJECT_COUNT.format(where=mous_where)
    else:
        page_sql = f"SELECT * FROM queries_observation WHERE {where} ORDER BY obs_id LIMIT {PAGE}"
        count_sql = f"SELECT count(*) FROM queries_observation WHERE {where}"

    def page_and_count() -> int:
        with connection.cursor() as cursor:
            if ids_sql:
                cursor.execute(ids_sql, params)
                params["mous_ids"] = [r[0] for r in cursor.fetchall()]
            cursor.execute(page_sql, params)
            cursor.fetchall()
            cursor.execute(count_sql, params)
            return cursor.fetchone()[0]

    statements = (ids_sql, page_sql, count_sql) if ids_sql else (page_sql, count_sql)
    page_and_count.statements = statements  # type: ignore[attr-defined]
    page_and_count.params = params  # type: ignore[attr-defined]
    return page_and_count


def explain(statements: tuple[str, ...], params: dict) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for stmt in statements:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + stmt, params)
            print("    " + "\n    ".join(r[0] for r in cursor.fetchall()))


def filters_searches() -> list[tuple[str, Callable, str]]:
    """The same searches through the portal's own filters (queries/filters.py), if present."""
    try:
        from queries import filters, syntax
    except ImportError:
        return []
    from queries.models import Observation

    def q(where) -> Callable:
        return lambda: Observation.objects.filter(where)

    band = filters.bands_q(syntax.BandConstraint(frozenset({CONE_BAND})))
    orion = q(filters.cone_q(syntax.Cone(CONE_RA, CONE_DEC, CONE_R)) & band)
    empty = q(filters.cone_q(syntax.Cone(EMPTY_RA, CONE_DEC, CONE_R)) & band)
    return [
        ("cone + band via queries.filters", orion, "page"),
        ("  empty field via queries.filters", empty, "page"),
        ("  Orion, filters, count first", orion, "count_first"),
        ("  empty, filters, count first", empty, "count_first"),
    ]


def load(args: argparse.Namespace) -> None:
    from django.core.management import call_command
    from django.db import connection

    from queries.models import Observation, PendingIndexes
    from queries.synth import delete_synthetic_archive, synthesize_archive, synthetic_projects

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrate: {time.perf_counter() - t0:.1f} s")
    have = Observation.objects.filter(project__in=synthetic_projects()).count()
    if args.reuse and have:
        print(f"reusing {have:,} synthetic rows already loaded")
    else:
        if have:
            t0 = time.perf_counter()
            delete_synthetic_archive()
            print(f"removed the earlier synthetic archive in {time.perf_counter() - t0:.1f} s")
            vacuum_full()
        indexes = index_names()
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        result = synthesize_archive(args.rows, seed=args.seed)
        dt = time.perf_counter() - t0
        counts = ", ".join(f"{n:,} {k}" for k, n in result.counts.items())
        print(f"synth_archive: {counts}")
        # The target counts a load that ends with every index in place: none may be missing.
        missing = indexes - index_names()
        if missing:
            print(f"LOAD  NOT valid: indexes missing after the load: {', '.join(sorted(missing))}")
        if PendingIndexes.objects.exists():  # built beside, and all of them by the end
            missing.add("(a PendingIndexes record is left)")
            print("LOAD  NOT valid: a PendingIndexes record is left after the load")
        rate = args.rows / dt
        met = "met" if rate >= LOAD_TARGET_ROWS_PER_S and not missing else "NOT met"
        print(
            f"LOAD  {args.rows:,} rows in {dt:.1f} s = {rate:,.0f} rows/s "
            f"(target {LOAD_TARGET_ROWS_PER_S:,} rows/s: {met}; {len(indexes)} indexes and "
            f"keys in place; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after)"
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            t0 = time.perf_counter()
            if not args.no_cluster:
                # Uses the index the 0002 migration marked (sky zone, then RA).
                cursor.execute("CLUSTER queries_observation")
                print(f"CLUSTER: {time.perf_counter() - t0:.1f} s")
                t0 = time.perf_counter()
            # After CLUSTER too: the rewrite clears the visibility map, and without it counts
            # cannot be index-only scans.
            cursor.execute("VACUUM ANALYZE")
            print(f"VACUUM ANALYZE: {time.perf_counter() - t0:.1f} s")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def index_names() -> set[str]:
    """Names of the indexes and foreign keys of the tables ``synth_archive`` fills (none on
    SQLite)."""
    from django.db import connection

    from queries.models import ObservedPosition, ProjectSummary, SpectralWindow
    from queries.synth import GENERATED_MODELS

    if connection.vendor != "postgresql":
        return set()
    models = (*GENERATED_MODELS, ProjectSummary, ObservedPosition, SpectralWindow)
    tables = [m._meta.db_table for m in models]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = ANY(%s) UNION "
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text "
            "= ANY(%s)",
            [tables, tables],
        )
        return {name for (name,) in cursor.fetchall()}


def vacuum_full() -> None:
    """Give back the space of the rows just removed (untimed), so that the timed load writes an
    empty table as a first load does, not one holding a million dead rows (the server's
    autovacuum may be off; every index build would scan them)."""
    from django.db import connection

    from queries.synth import GENERATED_MODELS

    if connection.vendor != "postgresql":
        return
    t0 = time.perf_counter()
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in GENERATED_MODELS)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (FULL) {tables}")
    print(f"VACUUM FULL of the emptied tables: {time.perf_counter() - t0:.1f} s")


def pick_code() -> str:
    """A mid-sized project, the same for a given seed and row count."""
    from django.db.models import Count

    from queries.models import Observation
    from queries.synth import synthetic_projects

    projects = (
        Observation.objects.filter(project__in=synthetic_projects())
        .values("proposal_id")
        .annotate(n=Count("id"))
        .filter(n__gte=20)
        .order_by("proposal_id")
    )
    return projects[len(projects) // 2]["proposal_id"] if projects else ""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    ensure_database(args.database_url)
    setup_django(args.database_url)
    from django.db import connection

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    load(args)
    code = pick_code()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            if args.tuned:
                for name, value in TUNED.items():
                    cursor.execute(f"SET {name} = {value}")
            settings = []
            for name in (*TUNED, "shared_buffers", "work_mem"):
                cursor.execute(f"SHOW {name}")
                settings.append(f"{name}={cursor.fetchone()[0]}")
            print("session: " + ", ".join(settings))
    cones = {
        "cone": cone_terms(CONE_RA, CONE_DEC, CONE_R, ra_box=True),
        "cone_dec": cone_terms(CONE_RA, CONE_DEC, CONE_R, ra_box=False),
        "empty": cone_terms(EMPTY_RA, CONE_DEC, CONE_R, ra_box=True),
        "empty_dec": cone_terms(EMPTY_RA, CONE_DEC, CONE_R, ra_box=False),
    }
    orm = orm_searches(cones, code)
    sql = sql_searches(cones, code)
    cases = []
    for label, key, mode in CASES:
        where, params = sql[key]
        s = run_sql(where, params, project_mode=mode == "project")
        cases.append((label, run_orm(orm[key], mode=mode), None if mode == "count_first" else s))
    for label, fn, mode in filters_searches():
        cases.append((label, run_orm(fn, mode=mode), None))
    print(f"\nproject code searched: {code}; each time = first {PAGE} rows + exact count")
    print(f"{'search':34} {'count':>8} {'ORM p50':>8} {'ORM p95':>8} {'SQL p50':>8} {'SQL p95':>8}")
    for name, orm_fn, sql_fn in cases:
        o = timed(orm_fn, args.repeat)
        if sql_fn is None or connection.vendor != "postgresql":  # bare SQL: PostgreSQL only
            print(f"{name:34} {o.result:>8,} {o.p50:>8.1f} {o.p95:>8.1f} {'-':>8} {'-':>8}")
            continue
        q = timed(sql_fn, args.repeat)
        flag = "" if o.result == q.result else "  (ORM and SQL counts differ!)"
        print(
            f"{name:34} {q.result:>8,} {o.p50:>8.1f} {o.p95:>8.1f} {q.p50:>8.1f} {q.p95:>8.1f}"
            f"{flag}",
            flush=True,
        )
        if args.explain:
            explain(sql_fn.statements, sql_fn.params)
    print(f"\ntotal {time.perf_counter() - started:.0f} s; times in ms, {args.repeat} runs each")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
