"""Time and identity, injected so tests and sweeps can run "as of" any moment."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = [
    "Clock",
    "IdFactory",
]


class Clock(Protocol):
    """Where use cases get the time from (never the wall clock directly)."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class IdFactory(Protocol):
    """Where use cases get new ids from."""

    def new_id(self) -> str:
        """A new globally unique id (a UUID string)."""
        ...
