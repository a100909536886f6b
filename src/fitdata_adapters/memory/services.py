"""The one in-memory bootstrap: a whole :class:`~fitdata_core.services.Services` on in-memory
adapters.

Every unit test builds its services here (``memory_services(clock=..., mailer=...)``), and so
can another service that embeds ``fitdata_core`` and wants to try it without any
infrastructure. Like :func:`fitdata_adapters.bootstrap.bootstrap`, it takes each port and
policy as a typed keyword; whatever is not given is an in-memory adapter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fitdata_adapters.clock import ManualClock, UuidFactory
from fitdata_adapters.crypto.keyring import KeyringCipher
from fitdata_adapters.csv_import.files import StoredImportFiles
from fitdata_adapters.mail.memory import MemoryMailer
from fitdata_adapters.memory.infrastructure import MemoryErrorReporter, MemoryRateLimiter
from fitdata_adapters.memory.uow import MemoryUnitOfWorkFactory
from fitdata_adapters.storage.memory import MemoryStorage
from fitdata_adapters.unconfigured import UnavailableAnalytics, UnavailableMemberSource
from fitdata_core.policies import BillingPolicy, ExportPolicy, ImportPolicy
from fitdata_core.ports.clock import Clock, IdFactory
from fitdata_core.ports.infrastructure import (
    CredentialCipher,
    ErrorReporter,
    Mailer,
    ObjectStorage,
    RateLimiter,
)
from fitdata_core.ports.providers import MemberSource, PaymentGateway
from fitdata_core.ports.repositories import AnalyticsReader, UnitOfWorkFactory
from fitdata_core.services import Services

#: The manual clock's start when no clock is given.
MEMORY_EPOCH = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


class _NoPaymentGateway:
    """Fails loudly: a test that reaches the gateway must pass its own fake."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"payment_gateway.{name} used, but no gateway was given")


def memory_services(
    *,
    uow: UnitOfWorkFactory | None = None,
    clock: Clock | None = None,
    ids: IdFactory | None = None,
    storage: ObjectStorage | None = None,
    mailer: Mailer | None = None,
    cipher: CredentialCipher | None = None,
    rate_limiter: RateLimiter | None = None,
    errors: ErrorReporter | None = None,
    payment_gateway: PaymentGateway | None = None,
    member_source: MemberSource | None = None,
    analytics: AnalyticsReader | None = None,
    billing: BillingPolicy | None = None,
    exports: ExportPolicy | None = None,
    imports: ImportPolicy | None = None,
) -> Services:
    """Services on memory adapters: a :class:`ManualClock` at :data:`MEMORY_EPOCH` (unless
    ``clock`` is given), memory storage and mail, a fresh credential key, the default
    policies, and a payment gateway that fails the test if it is used."""
    clock = clock if clock is not None else ManualClock(MEMORY_EPOCH)
    storage = storage if storage is not None else MemoryStorage(clock=clock)
    return Services(
        uow=uow if uow is not None else MemoryUnitOfWorkFactory(),
        clock=clock,
        ids=ids if ids is not None else UuidFactory(),
        storage=storage,
        mailer=mailer if mailer is not None else MemoryMailer(),
        cipher=(
            cipher if cipher is not None else KeyringCipher.from_spec(KeyringCipher.generate_spec())
        ),
        rate_limiter=rate_limiter if rate_limiter is not None else MemoryRateLimiter(),
        errors=errors if errors is not None else MemoryErrorReporter(),
        payment_gateway=payment_gateway if payment_gateway is not None else _NoPaymentGateway(),
        member_source=member_source if member_source is not None else UnavailableMemberSource(),
        analytics=analytics if analytics is not None else UnavailableAnalytics(),
        import_files=StoredImportFiles(storage),
        billing=billing if billing is not None else BillingPolicy(),
        exports=exports if exports is not None else ExportPolicy(),
        imports=imports if imports is not None else ImportPolicy(),
    )
