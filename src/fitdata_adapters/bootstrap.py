"""The one composition root: builds every adapter from :class:`Settings`.

Everything the HTTP app, the workers and the CLI use comes from :func:`bootstrap`. Tests
give any port by keyword (``bootstrap(settings, clock=ManualClock())``), so fakes are
injected in one place, the same way everywhere; the settings use cases obey become the core's
typed policies (:class:`BillingPolicy`, :class:`ExportPolicy`) here, once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from sqlalchemy.ext.asyncio import AsyncEngine

from fitdata_adapters.clock import SystemClock, UuidFactory
from fitdata_adapters.logging import LogErrorReporter, get_logger
from fitdata_adapters.private_fs import write_private
from fitdata_adapters.settings import Settings
from fitdata_core.errors import ConfigurationError
from fitdata_core.money import Money
from fitdata_core.policies import BillingPolicy, ExportPolicy, ImportPolicy
from fitdata_core.ports.clock import Clock, IdFactory
from fitdata_core.ports.infrastructure import (
    CredentialCipher,
    ErrorReporter,
    JobQueue,
    Mailer,
    ObjectStorage,
    RateLimiter,
)
from fitdata_core.ports.providers import MemberSource, PaymentGateway
from fitdata_core.ports.repositories import AnalyticsReader, UnitOfWorkFactory
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
        write_private(state_dir / _PORT_FILE, f"{sandbox.port}\n".encode("ascii"))
    except OSError as exc:  # only a convenience: the sandbox works without it
        log = get_logger("fitdata.cardcom_sandbox")
        log.warning("cardcom_sandbox.port_not_kept", error=str(exc))


def _member_source(settings: Settings, closers: list[Closer]) -> MemberSource:
    """Arbox at ``FITDATA_ARBOX_BASE_URL`` (its public origin by default in production); in
    embedded mode without it, the project's Arbox sandbox in process (started on first use)."""
    from fitdata_adapters.arbox import ArboxSource

    if settings.uses_arbox_sandbox:
        from fitdata_adapters.arbox_sandbox.embedded import EmbeddedArboxSource

        embedded = EmbeddedArboxSource()
        closers.append(embedded.aclose)
        return embedded

    source = ArboxSource(base_url=settings.arbox_base_url)
    closers.append(source.aclose)
    return source


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


def billing_policy(settings: Settings) -> BillingPolicy:
    """The billing settings as the core's typed policy (checked here, at start-up)."""
    return BillingPolicy(
        price_pro=Money(settings.price_pro),
        price_elite=Money(settings.price_elite),
        renewal_batch_limit=settings.renewal_batch_limit,
        renewal_concurrency=settings.renewal_concurrency,
        schedule_enabled=settings.billing_schedule_enabled,
        public_url=settings.public_url,
    )


def export_policy(settings: Settings) -> ExportPolicy:
    """The export settings as the core's typed policy."""
    return ExportPolicy(rate_limit_per_minute=settings.export_rate_limit_per_minute)


def import_policy(settings: Settings) -> ImportPolicy:
    """The import engine's settings as the core's typed policy (checked here, at start-up)."""
    from fitdata_adapters.db.engine import backend_of

    return ImportPolicy(
        batch_size=settings.import_batch_size,
        lease=timedelta(seconds=settings.import_lease_seconds),
        slice_seconds=float(settings.import_slice_seconds),
        rate_limit_per_minute=settings.import_rate_limit_per_minute,
        max_upload_bytes=settings.import_max_upload_bytes,
        file_retention=timedelta(days=settings.import_file_retention_days),
        apply_while_staging=backend_of(settings.database_url) == "postgresql",
    )


def bootstrap(
    settings: Settings | None = None,
    *,
    queue: JobQueue | None = None,
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
) -> Runtime:
    """Build the runtime. Any :class:`Services` field can be given instead of built.

    The payment gateway (and with it the embedded Cardcom sandbox) is built only when it is
    not given. In production mode nothing is built until every real provider is configured
    (:meth:`Settings.require_production_ready`).
    """
    from fitdata_adapters.csv_import.files import StoredImportFiles
    from fitdata_adapters.data_dir import prepare_locations
    from fitdata_adapters.db.analytics import SqlAnalyticsReader
    from fitdata_adapters.db.engine import engine_from_settings
    from fitdata_adapters.db.uow import SqlUnitOfWorkFactory

    settings = settings or Settings.from_env()
    # Production builds no stand-in: refuse, naming every missing setting, before anything
    # is built (a caller that brings its own gateway needs no Cardcom URL).
    settings.require_production_ready(
        skip=("cardcom_base_url",) if payment_gateway is not None else ()
    )
    # The policies first: a bad price stops the process before any server thread starts.
    billing = billing if billing is not None else billing_policy(settings)
    exports = exports if exports is not None else export_policy(settings)
    imports = imports if imports is not None else import_policy(settings)
    prepare_locations(settings)
    closers: list[Closer] = []
    engine = engine_from_settings(settings)
    storage = storage if storage is not None else _storage(settings)
    services = Services(
        uow=uow if uow is not None else SqlUnitOfWorkFactory(engine),
        clock=clock if clock is not None else SystemClock(),
        ids=ids if ids is not None else UuidFactory(),
        storage=storage,
        mailer=mailer if mailer is not None else _mailer(settings),
        cipher=cipher if cipher is not None else _cipher(settings),
        rate_limiter=(
            rate_limiter if rate_limiter is not None else _rate_limiter(settings, closers)
        ),
        errors=errors if errors is not None else LogErrorReporter(),
        payment_gateway=(
            payment_gateway if payment_gateway is not None else _gateway(settings, closers)
        ),
        member_source=(
            member_source if member_source is not None else _member_source(settings, closers)
        ),
        analytics=analytics if analytics is not None else SqlAnalyticsReader(engine),
        import_files=StoredImportFiles(storage),
        billing=billing,
        exports=exports,
        imports=imports,
    )
    return Runtime(
        settings=settings,
        services=services,
        engine=engine,
        queue=queue if queue is not None else _queue(settings, closers),
        closers=closers,
    )
