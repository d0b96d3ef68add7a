"""``manage.py harvest_archive``: fill the mirror from an archive's ivoa.obscore, or bring it up
to date (see ``harvest.services``). Killed or failed, it is simply run again: it continues the
unfinished run from its cursor."""

from __future__ import annotations

import time
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from archiveportal import jobs
from harvest import services
from harvest.bulk import restore_indexes
from harvest.models import HarvestMode, HarvestRun
from harvest.progress import ProgressBar
from queries.archive.loader import parse_datetime
from queries.errors import ArchiveUnavailable

SINCE_SYNTAX = "an ISO 8601 date or instant in UTC, e.g. 2024-10-01 or 2024-10-01T12:00:00"


class Command(BaseCommand):
    help = (
        "Harvest the archive's ivoa.obscore into the mirror: rows modified since the last run "
        "(or --since), or everything with --full (which also removes rows gone upstream)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--archive-url", default=None, help="default: HARVEST_ARCHIVE_URL")
        parser.add_argument("--since", default=None, help=f"lastModified from ({SINCE_SYNTAX})")
        parser.add_argument("--full", action="store_true", help="sweep the whole table")
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
        parser.add_argument(
            "--retries",
            type=int,
            default=None,
            help="retries after an upstream outage (default: HARVEST_MAX_RETRIES)",
        )

    def handle(self, *args, **options):
        url = (options["archive_url"] or settings.HARVEST_ARCHIVE_URL).strip()
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise CommandError(
                f"--archive-url: '{url}' is not an archive address. Accepted: an http(s) URL "
                "whose /tap is a TAP service, e.g. https://almascience.org"
            )
        since = None
        if options["since"]:
            try:
                since = parse_datetime(options["since"])
            except ValueError:
                raise CommandError(
                    f"--since: '{options['since']}' is not a date. Accepted: {SINCE_SYNTAX}"
                ) from None
        if options["full"] and since is not None:
            raise CommandError("--since and --full exclude each other: a full sweep reads all.")
        mode = HarvestMode.FULL if options["full"] else HarvestMode.INCREMENTAL
        retries = settings.HARVEST_MAX_RETRIES if options["retries"] is None else options["retries"]
        try:
            run = services.start_run(
                archive_url=url, mode=mode, since=since, dry_run=options["dry_run"]
            )
        except services.HarvestBusy as exc:
            raise CommandError(str(exc)) from None
        resumed = " (resuming after " + str(run.rows_seen) + " rows)" if run.rows_seen else ""
        self.stdout.write(f"harvest {run.pk}: {run.get_mode_display()} of {url}{resumed}")
        run = self._run(run, retries)
        prefix = "dry run, nothing applied: " if run.dry_run else ""
        self.stdout.write(
            f"{prefix}{run.rows_seen} rows seen, {run.new_count} new, {run.changed_count} "
            f"changed, {run.released_count} released, {run.removed_count} removed"
        )

    def _run(self, run: HarvestRun, retries: int) -> HarvestRun:
        for attempt in range(retries + 1):
            lease = settings.HARVEST_LEASE_SECONDS
            claimed = jobs.claim(HarvestRun, str(run.pk), lease_seconds=lease)
            if claimed is None:
                raise CommandError(f"Harvest {run.pk} was taken by another process.")
            bar = ProgressBar(self.stdout)
            try:
                return services.execute(claimed, on_progress=bar)
            except ArchiveUnavailable as exc:
                if attempt == retries:
                    message = f"{exc} Gave up after {retries} retries; the pages applied before "
                    message += "stay applied. Run the command again to continue from there."
                    jobs.fail(HarvestRun, str(run.pk), message)
                    restore_indexes(claimed)
                    raise CommandError(message) from None
                wait = jobs.backoff(attempt)
                message = f"{exc} Retry {attempt + 1} of {retries} in {wait} s."
                services.note_error(claimed, message)
                jobs.release(claimed)
                self.stderr.write(message)
                time.sleep(wait)
            except services.PERMANENT_ERRORS as exc:
                jobs.fail(HarvestRun, str(run.pk), str(exc))
                restore_indexes(claimed)
                raise CommandError(f"Harvest {run.pk} failed: {exc}") from None
            except BaseException:
                jobs.stop_heartbeat(run.pk)  # the lease runs out; the next run resumes
                raise
            finally:
                bar.close()
        raise AssertionError("unreachable")
