"""The SQL unit of work: one connection and transaction, and a repository per aggregate.

``async with uow:`` takes a connection from the pool and begins a transaction (on SQLite a
``BEGIN IMMEDIATE``, so writers queue). ``await uow.commit()`` commits; further work in the
same block starts a new transaction. Leaving the block rolls back whatever is uncommitted
and returns the connection.

A read-only unit of work (``factory(read_only=True)``) begins with a deferred ``BEGIN`` on
SQLite (a WAL snapshot: writers go on meanwhile) and ``BEGIN READ ONLY`` on
Postgres; its ``commit`` raises.

A separate-reads unit of work (``factory(separate_reads=True)``) runs its reads on a
connection in autocommit: no ``BEGIN`` before them and no ``ROLLBACK`` after, two round trips
fewer (the token check on every request is one, the member list another). Each ``SELECT`` is
then its own transaction, with its own snapshot, which under Postgres's default READ COMMITTED
is what each statement of a read-only transaction gets anyway. Autocommit would also commit a
write at once, so the session refuses anything but plain SELECTs, and the raw connection
(server-side cursors, ``COPY``, ``SET LOCAL``) that needs a transaction. On SQLite (no round
trips; its read-only transaction is a snapshot, which costs nothing) it is a read-only unit
of work.

Inside :func:`~fitdata_adapters.db.shared_reads.shared_reads` (each API request) the
separate-reads units share one connection instead of taking one each.

On Postgres a failed statement (a ``Conflict``, say) aborts the transaction: after an error,
leave the block and start a new unit of work rather than carrying on.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine

from fitdata_adapters.db.engine import read_only as mark_read_only
from fitdata_adapters.db.errors import database_unavailable, translate_errors
from fitdata_adapters.db.repositories import (
    SqlBillingEventRepository,
    SqlBillingTransactionRepository,
    SqlCourseRepository,
    SqlExportJobRepository,
    SqlIdempotencyKeyRepository,
    SqlImportJobRepository,
    SqlImportProviderConfigRepository,
    SqlLeadRepository,
    SqlLocationRepository,
    SqlMemberCsvStream,
    SqlMemberJsonPages,
    SqlMemberProfileRepository,
    SqlMembershipRepository,
    SqlOrganizationRepository,
    SqlOutboxRepository,
    SqlPlanRepository,
    SqlSealedSecretRepository,
    SqlSession,
    SqlSubscriptionRepository,
    SqlUserRepository,
)
from fitdata_adapters.db.repositories.imports import SqlImportData
from fitdata_adapters.db.shared_reads import SharedReads, current_shared_reads
from fitdata_core.errors import FitdataError


class SqlUnitOfWork:
    """Implements :class:`fitdata_core.ports.UnitOfWork` over an async SQLAlchemy engine."""

    def __init__(
        self, engine: AsyncEngine, *, read_only: bool = False, separate_reads: bool = False
    ) -> None:
        self._engine = engine
        self.read_only = read_only or separate_reads
        # SQLite keeps its own BEGIN handling (``install_sqlite_pragmas``), which an
        # isolation level change on the pooled connection would undo: a read-only unit there.
        self._separate_reads = separate_reads and engine.dialect.name == "postgresql"
        self._session = SqlSession(separate_reads=self._separate_reads)
        self._shared: SharedReads | None = None  # the request's connection, when borrowed
        session = self._session
        self.organizations = SqlOrganizationRepository(session)
        self.users = SqlUserRepository(session)
        self.memberships = SqlMembershipRepository(session)
        self.member_csv = SqlMemberCsvStream(session)
        self.member_json = SqlMemberJsonPages(session)
        self.profiles = SqlMemberProfileRepository(session)
        self.plans = SqlPlanRepository(session)
        self.locations = SqlLocationRepository(session)
        self.courses = SqlCourseRepository(session)
        self.leads = SqlLeadRepository(session)
        self.export_jobs = SqlExportJobRepository(session)
        self.import_jobs = SqlImportJobRepository(session)
        self.provider_configs = SqlImportProviderConfigRepository(session)
        self.subscriptions = SqlSubscriptionRepository(session)
        self.billing_transactions = SqlBillingTransactionRepository(session)
        self.billing_events = SqlBillingEventRepository(session)
        self.outbox = SqlOutboxRepository(session)
        self.sealed_secrets = SqlSealedSecretRepository(session)
        self.imports = SqlImportData(session)
        self.idempotency_keys = SqlIdempotencyKeyRepository(session)

    async def __aenter__(self) -> Self:
        if self._session.active:
            raise RuntimeError("A unit of work cannot be entered twice.")
        shared = current_shared_reads()
        if shared is not None:
            if self._separate_reads and shared.available:
                with database_unavailable():
                    self._session.bind(await shared.take(self._engine))
                self._shared = shared
                return self
            await shared.make_room()  # a request never holds two connections by sharing
        with database_unavailable():
            conn = await self._engine.connect()
            try:
                if self._separate_reads:
                    # The pool puts the connection's isolation level back at checkin.
                    conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                elif self.read_only:
                    await mark_read_only(conn)
                    await conn.begin()
                else:
                    await conn.begin()
            except BaseException:
                await conn.close()
                raise
        self._session.bind(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._session.unbind()
        if conn is None:
            return
        shared, self._shared = self._shared, None
        if shared is not None:
            await shared.give_back(failed=exc is not None)
            return
        try:
            if not self._separate_reads:  # in autocommit there is nothing to roll back
                with database_unavailable():
                    await conn.rollback()
        except Exception:
            # The block's own error matters more than a failed rollback on a broken link.
            if exc is None:
                raise
        finally:
            await conn.close()

    async def commit(self) -> None:
        if self.read_only:
            raise FitdataError("A read-only unit of work cannot commit.")
        with translate_errors():
            await self._session.conn.commit()

    async def rollback(self) -> None:
        if self._separate_reads:
            return  # each read was its own transaction, ended already
        with translate_errors():
            await self._session.conn.rollback()


class SqlUnitOfWorkFactory:
    """Makes a fresh :class:`SqlUnitOfWork` per call, all sharing one engine (and pool)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self, *, read_only: bool = False, separate_reads: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, read_only=read_only, separate_reads=separate_reads)
