"""A whole :class:`~fitdata_core.services.Services` on in-memory adapters.

For unit tests and for other services that embed ``fitdata_core`` and want to try it without
any infrastructure. Every port can be replaced by keyword.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs

from fitdata_adapters.clock import ManualClock, UuidFactory
from fitdata_adapters.crypto.keyring import KeyringCipher
from fitdata_adapters.mail.memory import MemoryMailer
from fitdata_adapters.memory.infrastructure import MemoryErrorReporter, MemoryRateLimiter
from fitdata_adapters.memory.uow import MemoryUnitOfWorkFactory
from fitdata_adapters.storage.memory import MemoryStorage
from fitdata_adapters.unconfigured import UnavailableAnalytics, UnavailableMemberSource
from fitdata_core.services import Services


class _NoPaymentGateway:
    """Fails loudly: a test that reaches the gateway must pass its own fake."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"payment_gateway.{name} used, but no gateway was given")


def memory_services(**overrides: Any) -> Services:
    """Services on memory adapters, a manual clock at 2026-01-15 09:00 UTC and a fresh key."""
    clock = overrides.pop("clock", None) or ManualClock(datetime(2026, 1, 15, 9, 0, tzinfo=UTC))
    services = Services(
        uow=MemoryUnitOfWorkFactory(),
        clock=clock,
        ids=UuidFactory(),
        storage=MemoryStorage(clock=clock),
        mailer=MemoryMailer(),
        cipher=KeyringCipher.from_spec(KeyringCipher.generate_spec()),
        rate_limiter=MemoryRateLimiter(),
        errors=MemoryErrorReporter(),
        payment_gateway=_NoPaymentGateway(),
        member_source=UnavailableMemberSource(),
        analytics=UnavailableAnalytics(),
    )
    return attrs.evolve(services, **overrides)
