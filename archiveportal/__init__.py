"""Archive Portal: a lab's own mirror of the ALMA Science Archive query and download interface."""

from .celery import app as celery_app

__all__ = ("celery_app",)
