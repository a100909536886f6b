"""Static proof that every adapter implements its port.

Nothing here runs: mypy (strict, on ``src`` in CI) checks each assignment below, so an
adapter whose methods drift from its ``typing.Protocol`` fails the build rather than a
production call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from fitdata_adapters.arbox import ArboxSource
    from fitdata_adapters.cardcom import CardcomGateway
    from fitdata_adapters.clock import ManualClock, SystemClock, UuidFactory
    from fitdata_adapters.crypto.keyring import KeyringCipher
    from fitdata_adapters.db.analytics import SqlAnalyticsReader
    from fitdata_adapters.db.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
    from fitdata_adapters.logging import LogErrorReporter
    from fitdata_adapters.mail.memory import MemoryMailer
    from fitdata_adapters.mail.outbox import EmlOutboxMailer
    from fitdata_adapters.mail.smtp import SmtpMailer
    from fitdata_adapters.memory import (
        MemoryErrorReporter,
        MemoryJobQueue,
        MemoryPaymentGateway,
        MemoryRateLimiter,
        MemoryUnitOfWork,
        MemoryUnitOfWorkFactory,
    )
    from fitdata_adapters.queue.dramatiq_queue import DramatiqJobQueue
    from fitdata_adapters.queue.local import LocalJobQueue
    from fitdata_adapters.ratelimit.redis import RedisRateLimiter
    from fitdata_adapters.storage.local import LocalFolderStorage
    from fitdata_adapters.storage.memory import MemoryStorage
    from fitdata_adapters.storage.s3 import S3Storage
    from fitdata_adapters.unconfigured import UnavailableAnalytics, UnavailableMemberSource
    from fitdata_core import ports

    def _unit_of_work(memory: MemoryUnitOfWork, sql: SqlUnitOfWork) -> None:
        _: ports.UnitOfWork = memory
        _ = sql

    def _uow_factories(memory: MemoryUnitOfWorkFactory, sql: SqlUnitOfWorkFactory) -> None:
        _: ports.UnitOfWorkFactory = memory
        _ = sql

    def _storage(memory: MemoryStorage, local: LocalFolderStorage, s3: S3Storage) -> None:
        _: ports.ObjectStorage = memory
        _ = local
        _ = s3

    def _mailers(memory: MemoryMailer, eml: EmlOutboxMailer, smtp: SmtpMailer) -> None:
        _: ports.Mailer = memory
        _ = eml
        _ = smtp

    def _queues(memory: MemoryJobQueue, local: LocalJobQueue, redis: DramatiqJobQueue) -> None:
        _: ports.JobQueue = memory
        _ = local
        _ = redis

    def _rate_limiters(memory: MemoryRateLimiter, redis: RedisRateLimiter) -> None:
        _: ports.RateLimiter = memory
        _ = redis

    def _error_reporters(memory: MemoryErrorReporter, log: LogErrorReporter) -> None:
        _: ports.ErrorReporter = memory
        _ = log

    def _clocks(system: SystemClock, manual: ManualClock, ids: UuidFactory) -> None:
        _: ports.Clock = system
        _ = manual
        _ids: ports.IdFactory = ids

    def _providers(
        cardcom: CardcomGateway,
        memory: MemoryPaymentGateway,
        arbox: UnavailableMemberSource,
        cipher: KeyringCipher,
        arbox_source: ArboxSource,
    ) -> None:
        _gateway: ports.PaymentGateway = cardcom
        _gateway = memory
        _source: ports.MemberSource = arbox
        _source = arbox_source
        _cipher: ports.CredentialCipher = cipher

    def _analytics(sql: SqlAnalyticsReader, unavailable: UnavailableAnalytics) -> None:
        _: ports.AnalyticsReader = sql
        _ = unavailable
