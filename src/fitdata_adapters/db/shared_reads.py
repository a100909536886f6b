"""One pooled connection for all of a request's separate-reads units of work.

An API request that only reads opens two such units one after the other: the token check
(the user with the caller's membership) and the use case's own (a member page, say). Each
took a connection from the pool and gave it back, so under load a request queued for the pool
twice, behind every other request each time: with 50 requests in flight and 20 connections,
that second wait was most of the spread between the median and the 99th percentile of the
member list's latency (bench/README.md, "one connection a request"). Inside
:func:`shared_reads` the first separate-reads unit takes a connection and the following ones
reuse it, until the request lets it go (:meth:`SharedReads.release`, which the HTTP layer
calls as the response starts, so a streamed body never holds it).

A separate-reads connection is in autocommit and only ever runs plain SELECTs (see
:mod:`fitdata_adapters.db.uow`), so a unit leaves nothing behind for the next one. What may
not share it, does not:

- a unit that runs a transaction (``read_only`` or writing) gets a connection of its own, and
  the request's idle shared connection goes back to the pool first: a request never holds
  two connections because of the sharing (one waiting on the pool while holding another is
  how a small pool deadlocks);
- a separate-reads unit that starts while another is using the shared connection (two at
  once in one request) gets its own;
- after an error inside a unit the shared connection is closed rather than reused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["SharedReads", "current_shared_reads", "shared_reads"]


class SharedReads:
    """The request's shared connection: none until a separate-reads unit needs one."""

    __slots__ = ("_busy", "_conn", "_released")

    def __init__(self) -> None:
        self._conn: AsyncConnection | None = None
        self._busy = False
        self._released = False

    @property
    def available(self) -> bool:
        """Whether a separate-reads unit may use the shared connection now."""
        return not self._busy and not self._released

    async def take(self, engine: AsyncEngine) -> AsyncConnection:
        """The shared connection (taken from the pool, in autocommit, on first use), now in
        use until :meth:`give_back`."""
        if self._conn is None:
            conn = await engine.connect()
            try:
                # The pool puts the connection's isolation level back at checkin.
                self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            except BaseException:
                await conn.close()
                raise
        self._busy = True
        return self._conn

    async def give_back(self, *, failed: bool) -> None:
        """The unit using the shared connection is done; after a failure the connection is
        closed (returned to the pool, which discards it if it broke) instead of reused."""
        self._busy = False
        if failed or self._released:
            await self._close()

    async def make_room(self) -> None:
        """Return the idle shared connection to the pool before the request takes another."""
        if not self._busy:
            await self._close()

    async def release(self) -> None:
        """The request is done reading: return the connection; later units take their own."""
        self._released = True
        if not self._busy:
            await self._close()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


_CURRENT: ContextVar[SharedReads | None] = ContextVar("fitdata_shared_reads", default=None)


def current_shared_reads() -> SharedReads | None:
    """The enclosing :func:`shared_reads`, if any."""
    return _CURRENT.get()


@asynccontextmanager
async def shared_reads() -> AsyncIterator[SharedReads]:
    """Separate-reads units of work inside the block share one connection (see the module
    docstring); it goes back to the pool at :meth:`SharedReads.release` or when the block
    ends, whichever comes first."""
    shared = SharedReads()
    token = _CURRENT.set(shared)
    try:
        yield shared
    finally:
        _CURRENT.reset(token)
        await shared.release()
