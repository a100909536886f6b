"""Services on memory adapters for the worker tests, and small fakes around them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import attrs

from fitdata_adapters.clock import ManualClock
from fitdata_adapters.memory import MemoryErrorReporter, MemoryUnitOfWorkFactory, memory_services
from fitdata_core.policies import BillingPolicy
from fitdata_core.ports.infrastructure import JobMessage, JobQueue
from fitdata_core.services import Services

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


class Unused:
    """A port these tests never reach; touching it is a test bug."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"unexpected use of {name}")


def make_services(
    clock: ManualClock,
    *,
    uow: Any = None,
    errors: MemoryErrorReporter | None = None,
    billing: BillingPolicy | None = None,
) -> Services:
    """The in-memory services, with the ports these tests never reach made to fail loudly."""
    unused: Any = Unused()
    return memory_services(
        uow=uow,
        clock=clock,
        storage=unused,
        mailer=unused,
        cipher=unused,
        errors=errors,
        member_source=unused,
        analytics=unused,
        billing=billing,
    )


@attrs.define
class FakeRuntime:
    """The two things a worker takes from ``bootstrap.Runtime``."""

    services: Services
    queue: JobQueue


async def write_job(svc: Services, actor: str, **args: str | int | None) -> JobMessage:
    """What a use case does: the job goes into the outbox in a committed transaction."""
    message = svc.job(actor, **args)
    async with svc.uow() as uow:
        await uow.outbox.add(message)
        await uow.commit()
    return message


def outbox_state(uow: MemoryUnitOfWorkFactory) -> dict[str, datetime | None]:
    """Message id -> when it was marked delivered (None: not yet)."""
    return {k: v.delivered_at for k, v in uow.db.tables.outbox.items()}


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], *, within: float = 5.0, what: str = "condition"
) -> None:
    """Wait until ``check()`` holds; fail with ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")
