"""``manage.py load_sample``: the bundled sample archive into the mirror and the lab cache."""

from django.core.management.base import BaseCommand

from queries.archive.sample import load_sample, materialise_sample_files


class Command(BaseCommand):
    help = "Load the bundled sample archive (idempotent) and write its files to LAB_DATA_ROOT."

    def handle(self, *args, **options):
        counts = load_sample()
        written = materialise_sample_files()
        self.stdout.write(
            f"sample archive: {counts['real_rows']} real ObsCore rows, "
            f"{counts['synthetic_rows']} synthetic rows, {counts['new_files']} files catalogued, "
            f"{written} files written to the lab cache"
        )
