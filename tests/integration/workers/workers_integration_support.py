"""Services on memory adapters for the Dramatiq and Redis scheduler tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import attrs

from fitdata_adapters.clock import ManualClock
from fitdata_adapters.memory import memory_services
from fitdata_core.ports.infrastructure import JobQueue
from fitdata_core.services import Services


class Unused:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"unexpected use of {name}")


def make_services(clock: ManualClock, *, uow: Any = None) -> Services:
    unused: Any = Unused()
    return memory_services(
        uow=uow,
        clock=clock,
        storage=unused,
        mailer=unused,
        cipher=unused,
        member_source=unused,
        analytics=unused,
    )


@attrs.define
class FakeRuntime:
    services: Services
    queue: JobQueue


async def wait_for(check: Callable[[], bool], *, within: float = 10.0, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
