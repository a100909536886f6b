"""In-memory queue, rate limiter and error reporter."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

import attrs

from fitdata_core.errors import QueueUnavailable
from fitdata_core.ports.infrastructure import JobMessage, RateLimitResult


class MemoryJobQueue:
    """Collects sent jobs; ``down = True`` makes it refuse like a broker that is unreachable."""

    def __init__(self) -> None:
        self.sent: list[JobMessage] = []
        self.down = False

    async def send(self, message: JobMessage) -> None:
        if self.down:
            raise QueueUnavailable("The job queue is unreachable.")
        self.sent.append(message)


class MemoryRateLimiter:
    """A sliding-window limiter for one process (the embedded default)."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> RateLimitResult:
        now = self._now()
        hits = self._hits[key]
        while hits and hits[0] <= now - window_seconds:
            hits.popleft()
        if len(hits) >= limit:
            retry_after = max(1, int(hits[0] + window_seconds - now + 0.999))
            return RateLimitResult(allowed=False, remaining=0, retry_after=retry_after)
        hits.append(now)
        return RateLimitResult(allowed=True, remaining=limit - len(hits), retry_after=0)


@attrs.frozen
class Report:
    kind: str
    message: str
    level: str
    context: dict[str, Any]


class MemoryErrorReporter:
    """Keeps reports in a list so tests can assert on alerts (e.g. a hung checkout)."""

    def __init__(self) -> None:
        self.reports: list[Report] = []

    def capture_exception(self, exc: BaseException, **context: Any) -> None:
        self.reports.append(Report("exception", str(exc), "error", context))

    def capture_message(self, message: str, *, level: str = "warning", **context: Any) -> None:
        self.reports.append(Report("message", message, level, context))
