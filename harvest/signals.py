"""Sent after a harvest run that wrote to the mirror finished (phase done, not a dry run), so the
watches can evaluate what it changed without the harvester knowing about them."""

from django.dispatch import Signal

# Sent with ``run`` (the finished HarvestRun).
harvest_finished = Signal()
