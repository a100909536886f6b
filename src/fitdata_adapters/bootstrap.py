"""The one composition root: builds every adapter from :class:`Settings`.

Everything the HTTP app, the workers and the CLI use comes from :func:`bootstrap`. Tests
override any port by keyword (``bootstrap(settings, clock=ManualClock())``), so fakes are
injected in one place, the same way everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy.ext.asyncio import AsyncEngine

from fitdata_adapters.clock import SystemClock, UuidFactory
from fitdata_adapters.logging import LogErrorReporter, get_logger
from fitdata_adapters.settings import Settings
from fitdata_adapters.unconfigured import UnavailableMemberSource
from fitdata_core.errors import ConfigurationError
from fitdata_core.ports.infrastructure import (
    CredentialCipher,
    JobQueue,
    Mailer,
    ObjectStorage,
    RateLimiter,
)
from fitdata_core.ports.providers import PaymentGateway
from fitdata_core.services import Services

if TYPE_CHECKING:
    from fitdata_adapters.cardcom_sandbox import SandboxThread

Closer = Callable[[], Awaitable[None]]


@attrs.define
class Runtime:
    """Everything built for one process, and how to release it."""

    settings: Settings
    services: Services
    engine: AsyncEngine
    queue: JobQueue
    closers: list[Closer] = attrs.field(factory=list)

    async def aclose(self) -> None:
        for close in reversed(self.closers):
            await close()
        self.closers.clear()
        await self.engine.dispose()


def derive_key(secret: str, purpose: str) -> bytes:
    """A key for one purpose derived from a master secret (so one secret serves many uses)."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()


def _storage(settings: Settings) -> ObjectStorage:
    if settings.s3_bucket:
        from fitdata_adapters.storage.s3 import S3Storage

        return S3Storage(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    from fitdata_adapters.storage.local import LocalFolderStorage

    return LocalFolderStorage(
        settings.data_dir / "storage",
        public_url=settings.public_url,
        signing_key=derive_key(settings.jwt_secret, "local-storage-links"),
        clock=SystemClock(),
    )


def _mailer(settings: Settings) -> Mailer:
    if settings.smtp_url:
        from fitdata_adapters.mail.smtp import SmtpMailer

        return SmtpMailer.from_url(settings.smtp_url, sender=settings.mail_from)
    from fitdata_adapters.mail.outbox import EmlOutboxMailer

    return EmlOutboxMailer(settings.data_dir / "mail-outbox", sender=settings.mail_from)


def _cipher(settings: Settings) -> CredentialCipher:
    from fitdata_adapters.crypto.keyring import KeyringCipher

    if settings.credential_keys:
        return KeyringCipher.from_spec(settings.credential_keys)
    return KeyringCipher.for_embedded(settings.data_dir)


def _rate_limiter(settings: Settings, closers: list[Closer]) -> RateLimiter:
    if settings.redis_url:
        from fitdata_adapters.ratelimit.redis import RedisRateLimiter

        limiter = RedisRateLimiter(settings.redis_url)
        closers.append(limiter.aclose)
        return limiter
    from fitdata_adapters.memory.infrastructure import MemoryRateLimiter

    return MemoryRateLimiter()


def _queue(settings: Settings, closers: list[Closer]) -> JobQueue:
    if settings.redis_url:
        from fitdata_adapters.queue.dramatiq_queue import DramatiqJobQueue

        queue = DramatiqJobQueue(settings.redis_url)
        closers.append(queue.aclose)
        return queue
    from fitdata_adapters.queue.local import LocalJobQueue

    return LocalJobQueue()


def _embedded_sandbox(settings: Settings) -> SandboxThread:
    """The project's own Cardcom sandbox, in this process, keeping its state (card tokens
    above all) under ``data_dir/cardcom-sandbox`` so renewals still work after a restart."""
    from fitdata_adapters.cardcom_sandbox import (
        SandboxConfig,
        SandboxStateError,
        SandboxStateInUse,
        SandboxThread,
    )

    config = SandboxConfig(
        terminal_number=settings.cardcom_terminal_number,
        api_name=settings.cardcom_api_name,
        state_dir=settings.data_dir / "cardcom-sandbox",
    )
    try:
        return SandboxThread(
            config, port=_remembered_port(config.state_dir), any_port_if_taken=True
        )
    except SandboxStateInUse as exc:
        # Another process on this data directory runs the sandbox; this one gets its own,
        # empty one, as every process did before state was kept.
        get_logger("fitdata.cardcom_sandbox").warning("cardcom_sandbox.in_memory", reason=str(exc))
        return SandboxThread(attrs.evolve(config, state_dir=None))
    except SandboxStateError as exc:
        raise ConfigurationError(str(exc)) from None


# The embedded sandbox's port is kept beside its state: a payment page URL handed out before
# a restart (a checkout reused within its window, a browser tab left open) keeps working.
_PORT_FILE = "port"


def _remembered_port(state_dir: Path | None) -> int:
    if state_dir is None:
        return 0
    try:
        port = int((state_dir / _PORT_FILE).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return 0
    return port if 1024 <= port <= 65535 else 0


def _remember_port(sandbox: SandboxThread) -> None:
    state_dir = sandbox.config.state_dir
    if state_dir is None:
        return
    try:
        (state_dir / _PORT_FILE).write_text(f"{sandbox.port}\n", encoding="ascii")
    except OSError as exc:  # only a convenience: the sandbox works without it
        log = get_logger("fitdata.cardcom_sandbox")
        log.warning("cardcom_sandbox.port_not_kept", error=str(exc))


def _gateway(settings: Settings, closers: list[Closer]) -> PaymentGateway:
    from fitdata_adapters.cardcom import CardcomGateway

    base_url = settings.cardcom_base_url
    if base_url is None:
        sandbox = _embedded_sandbox(settings)
        sandbox.start()
        _remember_port(sandbox)

        async def stop_sandbox() -> None:
            sandbox.stop()

        closers.append(stop_sandbox)
        base_url = sandbox.base_url
    gateway = CardcomGateway(
        base_url=base_url,
        terminal_number=settings.cardcom_terminal_number,
        api_name=settings.cardcom_api_name,
        webhook_url=f"{settings.public_url}/webhooks/cardcom",
        success_url=f"{settings.public_url}/billing/checkout-return",
        failed_url=f"{settings.public_url}/billing/checkout-return?failed=1",
    )
    closers.append(gateway.aclose)
    return gateway


def service_config(settings: Settings) -> dict[str, Any]:
    """The plain settings use cases read through ``Services.config``."""
    return {
        "public_url": settings.public_url,
        "price_pro": settings.price_pro,
        "price_elite": settings.price_elite,
        "renewal_batch_limit": settings.renewal_batch_limit,
        "renewal_concurrency": settings.renewal_concurrency,
        "billing_schedule_enabled": settings.billing_schedule_enabled,
        "export_rate_limit_per_minute": settings.export_rate_limit_per_minute,
        "import_lease_seconds": settings.import_lease_seconds,
        "import_batch_size": settings.import_batch_size,
        "import_slice_seconds": settings.import_slice_seconds,
        "import_rate_limit_per_minute": settings.import_rate_limit_per_minute,
    }


def bootstrap(
    settings: Settings | None = None,
    *,
    queue: JobQueue | None = None,
    **overrides: Any,
) -> Runtime:
    """Build the runtime. Any :class:`Services` field can be overridden by keyword.

    The payment gateway (and with it the embedded Cardcom sandbox) is built only when it is
    not overridden.
    """
    from fitdata_adapters.db.analytics import SqlAnalyticsReader
    from fitdata_adapters.db.engine import engine_from_settings
    from fitdata_adapters.db.uow import SqlUnitOfWorkFactory

    settings = settings or Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    closers: list[Closer] = []
    engine = engine_from_settings(settings)

    def build(name: str, make: Callable[[], Any]) -> Any:
        return overrides.pop(name) if name in overrides else make()

    services = Services(
        uow=build("uow", lambda: SqlUnitOfWorkFactory(engine)),
        clock=build("clock", SystemClock),
        ids=build("ids", UuidFactory),
        storage=build("storage", lambda: _storage(settings)),
        mailer=build("mailer", lambda: _mailer(settings)),
        cipher=build("cipher", lambda: _cipher(settings)),
        rate_limiter=build("rate_limiter", lambda: _rate_limiter(settings, closers)),
        errors=build("errors", LogErrorReporter),
        payment_gateway=build("payment_gateway", lambda: _gateway(settings, closers)),
        member_source=build("member_source", UnavailableMemberSource),
        analytics=build("analytics", lambda: SqlAnalyticsReader(engine)),
        config=build("config", lambda: service_config(settings)),
    )
    if overrides:
        raise TypeError(f"unknown overrides: {sorted(overrides)}")
    return Runtime(
        settings=settings,
        services=services,
        engine=engine,
        queue=queue or _queue(settings, closers),
        closers=closers,
    )
