"""``manage.py health``: database, broker and worker status; exit 1 when any is down."""

from django.core.management.base import BaseCommand, CommandError

from archiveportal.health import run_checks


class Command(BaseCommand):
    help = "Report database, broker and worker health."

    def add_arguments(self, parser):
        parser.add_argument("--no-workers", action="store_true", help="skip the worker ping")

    def handle(self, *args, **options):
        checks = run_checks(workers=not options["no_workers"])
        for check in checks:
            mark = "ok  " if check.ok else "DOWN"
            self.stdout.write(f"{mark} {check.name}: {check.detail}")
        if not all(c.ok for c in checks):
            raise CommandError("unhealthy")
