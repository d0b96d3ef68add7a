"""``manage.py synth_archive --rows N --seed S``: fill the mirror with a synthetic ALMA archive.

A thin wrapper around ``queries.synth.synthesize_archive``; see that module for what is made
and which codes mark it as synthetic.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from queries.filters import forget_max_fov
from queries.synth import GENERATED_MODELS, synthesize_archive


class Command(BaseCommand):
    help = (
        "Generate a deterministic ALMA-like synthetic archive (projects YYYY.C.9NNNN.S, "
        "is_synthetic) with N ObsCore rows."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, required=True, help="ObsCore rows to create")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument(
            "--batch",
            type=int,
            default=5000,
            help="bulk_create batch size where COPY is not available (default 5000)",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="remove an earlier synthetic archive first (the sample archive is kept)",
        )

    def handle(self, *args, rows: int, seed: int, batch: int, replace: bool, **options) -> None:
        if rows < 0:
            raise CommandError(f"--rows: must be 0 or more, got {rows}")
        if batch < 1:
            raise CommandError(f"--batch: must be 1 or more, got {batch}")
        started = time.perf_counter()
        try:
            result = synthesize_archive(rows, seed=seed, batch_size=batch, replace=replace)
            forget_max_fov()  # the cone search pads by the widest footprint: re-read it
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        counts = ", ".join(f"{n} {name}" for name, n in result.counts.items())
        rate = rows / elapsed if elapsed > 0 else 0.0
        self.stdout.write(
            f"synth_archive: {counts} on {result.vendor} in {elapsed:.1f} s ({rate:,.0f} rows/s)"
        )
        self._vacuum(result.vendor)

    def _vacuum(self, vendor: str) -> None:
        """Fresh statistics and visibility map: without them counts are not index-only scans."""
        if vendor != "postgresql":
            return
        if connection.in_atomic_block:  # VACUUM cannot run inside a transaction
            self.stdout.write("run VACUUM ANALYZE before timing searches")
            return
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in GENERATED_MODELS)
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {tables}")
