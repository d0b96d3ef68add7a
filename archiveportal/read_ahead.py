"""One item ahead in a thread: the next item of an iterator is produced while this one is used.

The harvest fetches, normalises and prepares its next page while the database merges this one;
``load_archive`` parses and lays out its next block while the server stores this one. Both are
Python work beside database work on two cores. Shared here because both the harvest and the
queries app use it (the harvest imports the queries app, never the other way round).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")


def read_ahead(items: Iterator[T], *, name: str = "read-ahead") -> Iterator[T]:
    """``items`` produced one ahead in a thread. Items arrive in order, and an error arrives
    after the items before it, as without the thread. When the consumer stops early the thread
    stops at its next hand-over."""
    slot: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: tuple) -> None:
        while not stop.is_set():
            try:
                slot.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for item in items:
                put(("item", item))
                if stop.is_set():
                    return
            put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            put(("error", exc))

    threading.Thread(target=produce, name=name, daemon=True).start()
    try:
        while True:
            kind, item = slot.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
