"""Database URLs and engines for the two supported backends, Postgres and SQLite.

Callers pass the URL the operator configured (``postgresql://...``, ``postgres://...`` or
``sqlite:///path``); this module picks the driver: psycopg 3 for Postgres, aiosqlite (async)
or the standard library (sync, for migrations) for SQLite.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

if TYPE_CHECKING:
    from fitdata_adapters.settings import Settings

# How long a SQLite writer waits for another one to finish before giving up, in ms. Embedded
# mode runs the API and a worker on one file, so writers queue up instead of failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000

# Execution option that marks a connection's transactions read-only (see ``read_only``).
READ_ONLY_OPTION = "fitdata_read_only"

_POSTGRES_ALIASES = {"postgres", "postgresql"}

# A pooled Postgres connection that sat unused this long is pinged before it is handed out
# (see ``_install_ping_after_idle``). Under load connections come back within milliseconds,
# so none is pinged; after a quiet spell, each is checked once.
PING_AFTER_IDLE_SECONDS = 5.0
_IDLE_SINCE = "fitdata_idle_since"


def _parse(url: str | URL) -> URL:
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in _POSTGRES_ALIASES:
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def backend_of(url: str | URL) -> str:
    """``"postgresql"`` or ``"sqlite"`` (the dialect name, whatever the driver)."""
    return _parse(url).get_backend_name()


def normalize_url(url: str | URL) -> str:
    """The async SQLAlchemy URL for ``url``.

    ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://``; ``sqlite:///path``
    becomes ``sqlite+aiosqlite:///path``. URLs that already name a driver are kept.
    """
    parsed = _parse(url)
    if parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return _render(parsed)


def sync_url(url: str | URL) -> str:
    """The synchronous URL for ``url`` (used by migrations): psycopg 3 or the stdlib sqlite3."""
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        parsed = parsed.set(drivername="sqlite")
    return _render(parsed)


def install_sqlite_pragmas(
    engine: sa.Engine,
    *,
    foreign_keys: bool = True,
    busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
) -> None:
    """Make SQLite safe for several writers in one process.

    WAL lets readers proceed beside a writer; ``busy_timeout`` makes a second writer wait
    rather than fail at once; and every read-write transaction starts with ``BEGIN
    IMMEDIATE`` so the write lock is taken up front. (A deferred transaction that reads and
    then writes can fail with "database is locked" however long the timeout, because SQLite
    cannot upgrade its read snapshot while another writer has committed.) A connection
    marked read-only (:func:`read_only`) starts a plain deferred ``BEGIN`` instead: it only
    reads a WAL snapshot, so a long read (an export stream) never holds the write lock.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop the driver from issuing its own BEGIN; we emit ours in ``_on_begin``.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY_OPTION):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def _install_ping_after_idle(engine: sa.Engine, idle_seconds: float) -> None:
    """Ping a pooled connection at checkout only when it sat idle over ``idle_seconds``.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: a round trip per unit of work,
    which was a sixth of a webhook's database round trips. A connection that was in use a
    moment ago is almost surely alive; one that was not is pinged as before, and a dead one
    is replaced (``InvalidatePoolError``: the pool drops it and every connection as old, as
    ``pool_pre_ping`` does, and opens another). A server that dies under load is noticed by
    the first statement that fails: SQLAlchemy then discards the whole pool, and the unit of
    work fails with ``DatabaseUnavailable`` (a 503 with Retry-After; workers retry it).
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return  # just opened, or back from use a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # any failure of the ping means "open another"
            raise sa.exc.InvalidatePoolError("idle connection failed its ping") from exc
        if not alive:
            raise sa.exc.InvalidatePoolError("idle connection failed its ping")


async def read_only(conn: AsyncConnection) -> AsyncConnection:
    """Mark ``conn`` (before its first transaction begins) as read-only.

    On SQLite its transactions start with a deferred ``BEGIN`` rather than ``BEGIN
    IMMEDIATE``; on Postgres with ``BEGIN READ ONLY`` (psycopg's ``read_only``, which the
    pool resets when the connection goes back), so a write slipped into a read-only unit of
    work fails instead of committing. The mark costs no round trip: a separate ``SET
    TRANSACTION READ ONLY`` was one more per read, on every request. Only engines from
    :func:`create_engine` know the SQLite mark.
    """
    if conn.dialect.name == "postgresql":
        return await conn.execution_options(**{READ_ONLY_OPTION: True, "postgresql_readonly": True})
    return await conn.execution_options(**{READ_ONLY_OPTION: True})


def create_engine(
    url: str | URL,
    *,
    pool_size: int = 20,
    max_overflow: int = 0,
    echo: bool = False,
    sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
    ping_after_idle_seconds: float = PING_AFTER_IDLE_SECONDS,
) -> AsyncEngine:
    """An async engine for ``url`` (any form :func:`normalize_url` accepts).

    SQLite gets WAL, a busy timeout, foreign keys and ``BEGIN IMMEDIATE`` transactions
    (see :func:`install_sqlite_pragmas`); ``pool_size`` and ``max_overflow`` do not apply to
    it. Postgres gets a pool of ``pool_size`` connections plus up to ``max_overflow`` more
    under load, recycled every half hour.

    The pool pings a connection before lending it only when it sat idle for
    ``ping_after_idle_seconds`` (see :func:`_install_ping_after_idle`): a ping on every
    checkout was a round trip per unit of work (two per API request, three per webhook).
    """
    if pool_size < 1 or max_overflow < 0:
        raise ValueError("pool_size must be at least 1 and max_overflow at least 0")
    async_url = normalize_url(url)
    if backend_of(async_url) == "sqlite":
        engine = create_async_engine(async_url, echo=echo)
        install_sqlite_pragmas(engine.sync_engine, busy_timeout_ms=sqlite_busy_timeout_ms)
        return engine
    engine = create_async_engine(
        async_url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        pool_timeout=30,
        # No server-side prepared statements: psycopg prepares a statement after its fifth use
        # on a connection, but forgets every prepared one at each ROLLBACK (a unit of work
        # that only read ends in one) and sends ``DEALLOCATE ALL``: a round trip more per such
        # unit of work, and the statements re-prepared (another round trip each) after five
        # more uses. Our statements are short; Postgres plans them in microseconds.
        connect_args={"connect_timeout": 10, "prepare_threshold": None},
    )
    _install_ping_after_idle(engine.sync_engine, ping_after_idle_seconds)
    return engine


def engine_from_settings(settings: Settings, *, echo: bool = False) -> AsyncEngine:
    """The engine for ``FITDATA_DATABASE_URL`` with the configured pool sizes."""
    return create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        echo=echo,
    )


def create_sync_engine(url: str | URL, *, foreign_keys: bool = True) -> sa.Engine:
    """A synchronous engine without pooling, for migrations and maintenance commands."""
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    if backend_of(url) == "sqlite":
        install_sqlite_pragmas(engine, foreign_keys=foreign_keys)
    return engine
