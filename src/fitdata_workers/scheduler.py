"""Periodic work: one table of scheduled jobs, fired once per tick however many schedulers run.

Every scheduled job is a ``(name, interval or daily UTC time, job it enqueues)`` row in
:data:`SCHEDULE`. A scheduler wakes up about once a second and, for each row, works out the
most recent tick (an interval tick is aligned to the Unix epoch, so every scheduler agrees on
it; a daily tick is that day's time in UTC). To fire a tick it first *claims*
``(job name, tick timestamp)`` on a :class:`ScheduleLock` (Redis ``SET NX EX`` in production,
an in-process set in embedded mode) and only the winner writes the job to the outbox; the
outbox relay then sends it like any other job.

A tick older than the row's ``misfire_grace`` is not fired: a scheduler started at 14:00
does not run the 02:30 sweep it missed, and restarting the embedded server does not repeat
the day's sweeps. Billing sweeps catch up on their next run anyway (they select what is due
"as of" now).

Billing rows obey the kill switch ``svc.billing.schedule_enabled``: when it is
false they are skipped (and logged) without claiming, so turning it back on resumes them at
the next tick.

Scheduled job handlers receive one keyword argument, ``scheduled_for``: the tick as an
ISO-8601 UTC timestamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time as _time
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Protocol

import attrs

from fitdata_core.job_names import (
    BILLING_EXPIRE_STALE,
    BILLING_RECONCILE,
    BILLING_RENEWALS,
    EXPORTS_FAIL_STALE,
    IMPORTS_SWEEP_FILES,
    IMPORTS_TAKE_OVER,
)
from fitdata_core.services import Services

log = logging.getLogger("fitdata.workers.scheduler")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@attrs.frozen
class ScheduledJob:
    """One row of the schedule: fire ``job`` every ``every``, or daily at ``daily_at`` UTC."""

    name: str
    job: str
    every: timedelta | None = None
    daily_at: time | None = None
    #: Billing jobs obey the kill switch ``BillingPolicy.schedule_enabled``.
    billing: bool = False
    #: How late a tick may still fire (defaults: the interval; 6 hours for daily jobs).
    misfire_grace: timedelta | None = None

    def __attrs_post_init__(self) -> None:
        if (self.every is None) == (self.daily_at is None):
            raise ValueError(f"scheduled job {self.name!r} needs exactly one of every/daily_at")
        if self.every is not None and self.every < timedelta(seconds=1):
            raise ValueError(f"scheduled job {self.name!r} runs more than once a second")

    @property
    def period(self) -> timedelta:
        return self.every if self.every is not None else timedelta(days=1)

    @property
    def grace(self) -> timedelta:
        if self.misfire_grace is not None:
            return self.misfire_grace
        return self.every if self.every is not None else timedelta(hours=6)

    def last_tick(self, now: datetime) -> datetime:
        """The most recent tick at or before ``now`` (UTC)."""
        now = now.astimezone(UTC)
        if self.every is not None:
            step = self.every // timedelta(microseconds=1)
            elapsed = (now - _EPOCH) // timedelta(microseconds=1)
            return _EPOCH + timedelta(microseconds=elapsed - elapsed % step)
        assert self.daily_at is not None
        today = datetime.combine(now.date(), self.daily_at, tzinfo=UTC)
        return today if today <= now else today - timedelta(days=1)


#: The schedule. Times are UTC. Handlers for these jobs are registered by the features.
SCHEDULE: tuple[ScheduledJob, ...] = (
    # Charge subscriptions whose period ended (Cardcom token renewal, dunning, period-end
    # cancellations).
    ScheduledJob(name=BILLING_RENEWALS, job=BILLING_RENEWALS, daily_at=time(3, 0), billing=True),
    # Settle hung pending checkouts by asking Cardcom for their status.
    ScheduledJob(
        name=BILLING_RECONCILE,
        job=BILLING_RECONCILE,
        every=timedelta(minutes=5),
        billing=True,
    ),
    # Cancel pending transactions older than 7 days.
    ScheduledJob(
        name=BILLING_EXPIRE_STALE,
        job=BILLING_EXPIRE_STALE,
        daily_at=time(2, 30),
        billing=True,
    ),
    # Fail export jobs stuck in progress (worker killed, database gone) and delete their
    # partial files.
    ScheduledJob(name=EXPORTS_FAIL_STALE, job=EXPORTS_FAIL_STALE, every=timedelta(minutes=10)),
    # Wake imports whose worker died (lease ended): another worker resumes them from their
    # last finished batch.
    ScheduledJob(name=IMPORTS_TAKE_OVER, job=IMPORTS_TAKE_OVER, every=timedelta(seconds=15)),
    # Delete the stored files of CSV imports finished longer ago than
    # FITDATA_IMPORT_FILE_RETENTION_DAYS (members' personal data is not kept for ever).
    ScheduledJob(name=IMPORTS_SWEEP_FILES, job=IMPORTS_SWEEP_FILES, every=timedelta(hours=1)),
)


class ScheduleLock(Protocol):
    """Claims a tick so exactly one scheduler fires it."""

    async def claim(self, key: str, ttl_seconds: int) -> bool:
        """True for the first caller with ``key`` until ``ttl_seconds`` pass; False after."""
        ...

    async def release(self, key: str) -> None:
        """Give a claim back (its job could not be written), so the tick can fire again."""
        ...


class InProcessScheduleLock:
    """The embedded mode's lock: claims shared by every scheduler holding this object."""

    def __init__(self) -> None:
        self._claims: dict[str, float] = {}
        self._guard = threading.Lock()

    async def claim(self, key: str, ttl_seconds: int) -> bool:
        now = _time.monotonic()
        with self._guard:
            for stale in [k for k, until in self._claims.items() if until <= now]:
                del self._claims[stale]
            if key in self._claims:
                return False
            self._claims[key] = now + ttl_seconds
            return True

    async def release(self, key: str) -> None:
        with self._guard:
            self._claims.pop(key, None)


def _claim_ttl(entry: ScheduledJob) -> int:
    # Outlive the tick's grace (plus a margin) so no scheduler can claim it again meanwhile.
    return int((entry.grace + entry.period).total_seconds()) + 60


class Scheduler:
    """Fires the :data:`SCHEDULE` rows into the outbox, once per tick across all schedulers."""

    def __init__(
        self,
        services: Services,
        lock: ScheduleLock,
        *,
        schedule: Sequence[ScheduledJob] = SCHEDULE,
    ) -> None:
        names = [entry.name for entry in schedule]
        if len(names) != len(set(names)):
            raise ValueError("scheduled job names must be unique")
        self._svc = services
        self._lock = lock
        self._schedule = tuple(schedule)
        # The last tick this scheduler settled per row (fired, or found claimed elsewhere), so
        # it asks the lock once per tick, not once per wake-up.
        self._settled: dict[str, datetime] = {}

    @property
    def schedule(self) -> tuple[ScheduledJob, ...]:
        return self._schedule

    def _billing_enabled(self) -> bool:
        return self._svc.billing.schedule_enabled

    async def tick(self, now: datetime) -> list[str]:
        """Fire every row whose current tick is due and unclaimed. Returns the names fired."""
        fired: list[str] = []
        billing_enabled = self._billing_enabled()
        for entry in self._schedule:
            tick = entry.last_tick(now)
            if self._settled.get(entry.name) == tick or now - tick > entry.grace:
                continue
            if entry.billing and not billing_enabled:
                if self._settled.get(entry.name) != tick:
                    log.info("billing schedule disabled; skipping %s at %s", entry.name, tick)
                    self._settled[entry.name] = tick
                continue
            key = f"{entry.name}:{tick.isoformat()}"
            try:
                claimed = await self._lock.claim(key, _claim_ttl(entry))
            except Exception:
                # Lock store down: try again on the next wake-up, within the tick's grace.
                log.exception("could not claim scheduled job %s for %s", entry.name, tick)
                continue
            if not claimed:
                self._settled[entry.name] = tick
                continue
            try:
                await self._enqueue(entry, tick)
            except Exception:
                log.exception("could not enqueue scheduled job %s for %s", entry.name, tick)
                await self._give_back(key)
                continue
            self._settled[entry.name] = tick
            fired.append(entry.name)
            log.info("scheduled job %s fired for %s", entry.name, tick)
        return fired

    async def _give_back(self, key: str) -> None:
        # Give the tick back so this or another scheduler fires it on a later wake-up. If even
        # that fails, the tick is lost; the next tick's sweep catches up.
        try:
            await self._lock.release(key)
        except Exception:
            log.exception("could not release schedule claim %s", key)

    async def _enqueue(self, entry: ScheduledJob, tick: datetime) -> None:
        async with self._svc.uow() as uow:
            await uow.outbox.add(self._svc.job(entry.job, scheduled_for=tick.isoformat()))
            await uow.commit()

    async def run(self, stop: asyncio.Event, *, interval_seconds: float = 1.0) -> None:
        """Tick on the services' clock until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.tick(self._svc.clock.now())
            except Exception:
                log.exception("scheduler tick crashed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
