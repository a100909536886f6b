"""Requests that really run at the same time, and a barrier that makes them meet where they
race.

Litestar's ``AsyncTestClient`` hands each request to the app's thread and waits for its
answer, so requests gathered on it run one after the other and race nothing. Requests sent
through httpx's in-process ASGI transport share the test's event loop and interleave at every
``await``; :class:`Rendezvous` then holds each one right after it read the contested row until
the others read it too, so they race in the worst order rather than whatever order the event
loop happens to pick.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import httpx
from litestar import Litestar

from fitdata_adapters.bootstrap import Runtime
from fitdata_http import create_app


def concurrent_client(app: Litestar) -> httpx.AsyncClient:
    """A client whose requests run concurrently on the test's event loop."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


class Rendezvous:
    """Holds each party until ``parties`` of them arrived (or ``timeout`` passed: a party
    blocked on a row lock never arrives, so the others must go on for the lock to free)."""

    def __init__(self, parties: int, timeout: float = 1.0) -> None:
        self.parties = parties
        self.timeout = timeout
        self.arrived = 0
        self.all_arrived = asyncio.Event()
        self.timed_out = False  # True when someone went on before all parties arrived

    async def wait(self) -> None:
        self.arrived += 1
        if self.arrived >= self.parties:
            self.all_arrived.set()
        try:
            await asyncio.wait_for(self.all_arrived.wait(), timeout=self.timeout)
        except TimeoutError:
            self.timed_out = True
            self.all_arrived.set()  # the others wait on a lock: let them through once it frees


@attrs.define
class _PausingRepository:
    """A repository whose ``methods`` meet at the rendezvous right after they answered."""

    inner: Any
    methods: frozenset[str]
    rendezvous: Rendezvous

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if name not in self.methods:
            return found

        async def paused(*args: Any, **kwargs: Any) -> Any:
            answer = await found(*args, **kwargs)
            await self.rendezvous.wait()
            return answer

        return paused


@attrs.define
class _PausingUow:
    inner: Any
    repository: str
    methods: frozenset[str]
    rendezvous: Rendezvous

    async def __aenter__(self) -> _PausingUow:
        self.inner = await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> Any:
        return await self.inner.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if name == self.repository:
            return _PausingRepository(found, self.methods, self.rendezvous)
        return found


def pausing_app(
    runtime: Runtime,
    rendezvous: Rendezvous,
    *,
    repository: str,
    methods: Iterable[str],
    read_only_too: bool = False,
) -> Litestar:
    """The app over ``runtime``, each call of ``repository``'s ``methods`` in a writing unit
    of work held at ``rendezvous`` once it answered (read-only units of work, like early
    checks, pass unless ``read_only_too``: they are not where requests race)."""
    svc = runtime.services
    held = frozenset(methods)
    make_uow: Callable[..., Any] = svc.uow

    def pausing_uow(*, read_only: bool = False, separate_reads: bool = False) -> Any:
        if separate_reads:  # the token check, the member list: reads only, nothing to pause
            return make_uow(separate_reads=True)
        if read_only and not read_only_too:
            return make_uow(read_only=True)
        return _PausingUow(make_uow(read_only=read_only), repository, held, rendezvous)

    return create_app(attrs.evolve(runtime, services=attrs.evolve(svc, uow=pausing_uow)))
