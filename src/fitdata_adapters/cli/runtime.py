"""Settings, migrations and the runtime for one CLI command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fitdata_adapters.logging import configure_logging
from fitdata_adapters.settings import Settings
from fitdata_core.errors import ProviderError
from fitdata_core.ports.providers import (
    ChargeOutcome,
    ChargeRequest,
    CheckoutPage,
    CheckoutRequest,
    PaymentResult,
)

if TYPE_CHECKING:
    from fitdata_adapters.bootstrap import Runtime


def load_settings(*, process: bool = False) -> Settings:
    """Settings from the environment, with logging configured to match and the data
    directory ready (ConfigurationError naming the setting and path if it cannot be).

    ``process`` is for the long-running processes (``serve``, ``worker``, ``scheduler``): in
    production mode they refuse to start, naming every missing setting, before touching
    anything.
    """
    from fitdata_adapters.data_dir import prepare_locations

    settings = Settings.from_env()
    configure_logging(settings.log_level, json=settings.log_json)
    if process:
        settings.require_production_ready()
    prepare_locations(settings)  # a fresh data dir is created; an unusable one is named
    return settings


def migrate(settings: Settings) -> str:
    """Bring the schema up to date (idempotent, safe beside other processes); the revision."""
    from fitdata_adapters.db.migrate import head_revision, upgrade

    upgrade(settings.database_url)
    return head_revision()


def migrate_if_needed(settings: Settings) -> str:
    """:func:`migrate`, skipping the migration machinery when the schema is already current
    (the everyday restart of ``fitdata serve``: a one-row read instead of a second of Alembic)."""
    from fitdata_adapters.db.revision import upgrade_if_needed

    return upgrade_if_needed(settings.database_url)


class NoPaymentGateway:
    """The gateway of short operator commands, which never take payments.

    Building the real one would start the embedded Cardcom sandbox (a server thread) in
    every ``fitdata org create``; this stand-in refuses clearly if anything tries to pay.
    """

    def _refuse(self) -> ProviderError:
        return ProviderError("cardcom", "payments are not available in CLI commands")

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutPage:
        raise self._refuse()

    async def get_checkout_result(self, low_profile_id: str) -> PaymentResult:
        raise self._refuse()

    async def charge_token(self, request: ChargeRequest) -> ChargeOutcome:
        raise self._refuse()

    async def find_charge(self, external_uniq_id: str) -> ChargeOutcome | None:
        raise self._refuse()


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """A runtime for a short command, closed (connections) when the block ends."""
    from fitdata_adapters.bootstrap import bootstrap

    runtime = bootstrap(settings, payment_gateway=NoPaymentGateway())
    try:
        yield runtime
    finally:
        await runtime.aclose()
