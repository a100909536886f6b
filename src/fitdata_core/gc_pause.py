"""Pausing Python's cyclic garbage collector around a bulk loop.

A CSV import reads, maps and checks every row of the file in tight synchronous loops that
allocate a dozen small containers a row (cells, value dicts, records, problems), all freed by
reference counting as soon as the page is staged. The cyclic collector, triggered by the
allocation count alone, scans them (and every long-lived object of the process) again and
again for cycles that are not there: measured on a 100,000-row import, about a quarter of the
process's CPU time. :func:`collector_paused` switches it off for the length of such a loop.

The switch is process-wide, so it nests and is shared: threads and coroutines pausing at the
same time each hold the pause, and the collector is enabled again only when the last of them
leaves and only if it was enabled when the first came in (a host that runs with the collector
off keeps it off). What little cyclic garbage a loop leaves is collected by the next
collection after it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off inside the block (see the module docstring)."""
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
