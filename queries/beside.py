"""Work on connections of its own, beside the caller's transaction.

One PostgreSQL connection runs one statement at a time, and a transaction cannot build an
index beside anything; a bulk load that has committed its rows can (``queries.pending_indexes``,
``harvest.bulk``): each thread here gets Django's connection for that thread, its own, closed
when its steps end. The first error stops a thread's steps and is handed to the caller by
``wait``, which raises nothing itself: the caller decides which error wins.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connections


@dataclass
class Beside:
    """Threads started with ``start``, waited for with ``wait``."""

    using: str = "default"
    _threads: list[threading.Thread] = field(default_factory=list)
    _failed: list[BaseException] = field(default_factory=list)

    def start(self, name: str, *steps: Callable[[], object]) -> None:
        """Run ``steps`` in order in a thread named ``name``, on its own connection."""

        def run() -> None:
            try:
                for step in steps:
                    step()
            except BaseException as exc:  # handed to the caller's thread by wait()
                self._failed.append(exc)
            finally:
                connections[self.using].close()  # this thread's own connection

        worker = threading.Thread(target=run, name=name, daemon=True)
        worker.start()
        self._threads.append(worker)

    def wait(self) -> BaseException | None:
        """Wait for every thread started so far; the first error, if any."""
        for worker in self._threads:
            worker.join()
        return self._failed[0] if self._failed else None

    @property
    def errors(self) -> list[BaseException]:
        """Every thread's error so far (after ``wait``: all of them)."""
        return list(self._failed)
