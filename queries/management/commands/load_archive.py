"""``manage.py load_archive PATH...``: ObsCore results and DataLink listings into the mirror."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from queries.archive.loader import load_paths
from queries.errors import LoadError


class Command(BaseCommand):
    help = (
        "Load ALMA ObsCore results (CSV, TSV, ECSV, VOTable, astropy ascii) and DataLink "
        "VOTables into the mirror. All files load, or none does."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path)

    def handle(self, *args, paths, **options):
        files = []
        for path in paths:
            if path.is_dir():
                files.extend(sorted(p for p in path.rglob("*") if p.is_file()))
            elif path.exists():
                files.append(path)
            else:
                raise CommandError(f"{path}: no such file or directory")
        try:
            result = load_paths(files)
        except LoadError as exc:
            raise CommandError(f"nothing was loaded: {exc}") from exc
        self.stdout.write(
            f"{result.rows} rows from {result.files} files: {result.created} new, "
            f"{result.updated} updated; {result.datalink_files} DataLink files; "
            f"{len(result.proposal_ids)} projects"
        )
        if result.unknown_columns:
            self.stdout.write(
                "kept in Observation.extra (not ObsCore columns): "
                + ", ".join(sorted(result.unknown_columns))
            )
