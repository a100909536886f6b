"""Settings from ``FITDATA_*`` environment variables (documented in docs/configuration.md).

With nothing set, everything runs embedded under ``./var``: SQLite, a local storage folder,
an ``.eml`` mail outbox, an in-memory rate limiter, an in-process worker and the Cardcom
sandbox. Each external service has a base-URL variable so tests and operators can point it
anywhere.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path

import attrs

from fitdata_core.errors import ConfigurationError

PREFIX = "FITDATA_"

# Long enough for a database failover or a broker restart to finish, short enough that a
# client honouring it is not kept waiting long after a blip.
DEFAULT_RETRY_AFTER_SECONDS = 10


@attrs.frozen(repr=False)
class Settings:
    data_dir: Path
    database_url: str
    # Postgres connection pool per process (SQLite ignores both).
    database_pool_size: int
    database_max_overflow: int
    redis_url: str | None
    jwt_secret: str
    public_url: str
    # Cardcom; no base URL means the embedded sandbox.
    cardcom_base_url: str | None
    cardcom_terminal_number: int
    cardcom_api_name: str
    # Arbox (imports).
    arbox_base_url: str
    arbox_management_base_url: str
    # Object storage; no bucket means a local folder under data_dir.
    s3_bucket: str | None
    s3_endpoint_url: str | None
    s3_region: str
    s3_access_key_id: str | None
    s3_secret_access_key: str | None
    # Mail; no SMTP URL means .eml files in data_dir/mail-outbox.
    smtp_url: str | None
    mail_from: str
    credential_keys: str | None
    # Billing.
    billing_schedule_enabled: bool
    price_pro: Decimal
    price_elite: Decimal
    renewal_batch_limit: int
    renewal_concurrency: int
    # Exports.
    export_rate_limit_per_minute: int
    # HTTP: the Retry-After (seconds) of a 503 when a dependency is down.
    retry_after_seconds: int
    log_level: str
    log_json: bool
    # Imports (the engine's tunables; see docs/imports.md).
    import_lease_seconds: int = 30
    import_batch_size: int = 1000
    import_slice_seconds: int = 20
    import_rate_limit_per_minute: int = 10

    def __repr__(self) -> str:  # settings hold secrets; never print them
        return (
            f"Settings(database_url={_redact_url(self.database_url)!r}, data_dir={self.data_dir!s})"
        )

    @property
    def is_embedded_queue(self) -> bool:
        return self.redis_url is None

    @property
    def uses_sandbox(self) -> bool:
        return self.cardcom_base_url is None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = _Env(os.environ if environ is None else environ)
        data_dir = Path(env.text("DATA_DIR", "./var")).resolve()
        return cls(
            data_dir=data_dir,
            database_url=env.text("DATABASE_URL", f"sqlite:///{data_dir / 'fitdata.db'}"),
            database_pool_size=env.integer("DATABASE_POOL_SIZE", 10, minimum=1),
            database_max_overflow=env.integer("DATABASE_MAX_OVERFLOW", 10, minimum=0),
            redis_url=env.optional("REDIS_URL"),
            jwt_secret=env.optional("JWT_SECRET") or _embedded_secret(data_dir, "jwt-secret"),
            public_url=env.text("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            cardcom_base_url=_strip(env.optional("CARDCOM_BASE_URL")),
            cardcom_terminal_number=env.integer("CARDCOM_TERMINAL_NUMBER", 1000),
            cardcom_api_name=env.text("CARDCOM_API_NAME", "fitdata-sandbox"),
            arbox_base_url=env.text(
                "ARBOX_BASE_URL", "https://arboxserver.arboxapp.com/api/public"
            ).rstrip("/"),
            arbox_management_base_url=env.text(
                "ARBOX_MANAGEMENT_BASE_URL", "https://arboxserver.arboxapp.com/api"
            ).rstrip("/"),
            s3_bucket=env.optional("S3_BUCKET"),
            s3_endpoint_url=env.optional("S3_ENDPOINT_URL"),
            s3_region=env.text("S3_REGION", "auto"),
            s3_access_key_id=env.optional("S3_ACCESS_KEY_ID"),
            s3_secret_access_key=env.optional("S3_SECRET_ACCESS_KEY"),
            smtp_url=env.optional("SMTP_URL"),
            mail_from=env.text("MAIL_FROM", "fitdata <no-reply@fitdata.local>"),
            credential_keys=env.optional("CREDENTIAL_KEYS"),
            billing_schedule_enabled=env.flag("BILLING_SCHEDULE_ENABLED", True),
            price_pro=env.decimal("PRICE_PRO", Decimal("249")),
            price_elite=env.decimal("PRICE_ELITE", Decimal("449")),
            renewal_batch_limit=env.integer("RENEWAL_BATCH_LIMIT", 100),
            renewal_concurrency=env.integer("RENEWAL_CONCURRENCY", 8),
            export_rate_limit_per_minute=env.integer("EXPORT_RATE_LIMIT_PER_MINUTE", 10),
            retry_after_seconds=env.integer(
                "RETRY_AFTER_SECONDS", DEFAULT_RETRY_AFTER_SECONDS, minimum=1
            ),
            log_level=env.text("LOG_LEVEL", "INFO").upper(),
            log_json=env.flag("LOG_JSON", False),
            import_lease_seconds=env.integer("IMPORT_LEASE_SECONDS", 30, minimum=2),
            import_batch_size=env.integer("IMPORT_BATCH_SIZE", 1000, minimum=1),
            import_slice_seconds=env.integer("IMPORT_SLICE_SECONDS", 20, minimum=1),
            import_rate_limit_per_minute=env.integer("IMPORT_RATE_LIMIT_PER_MINUTE", 10),
        )


def _strip(value: str | None) -> str | None:
    return value.rstrip("/") if value else value


def _redact_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest


def _embedded_secret(data_dir: Path, name: str) -> str:
    """A random secret kept in the data dir, so embedded mode works with nothing configured
    and tokens survive restarts."""
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


class _Env:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._env = environ

    def optional(self, name: str) -> str | None:
        value = self._env.get(PREFIX + name, "").strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError as exc:
            raise ConfigurationError(
                f"{PREFIX}{name} must be a whole number, got {raw!r}."
            ) from exc
        if minimum is not None and value < minimum:
            least = "a positive whole number" if minimum == 1 else f"at least {minimum}"
            raise ConfigurationError(f"{PREFIX}{name} must be {least}, got {raw!r}.")
        return value

    def decimal(self, name: str, default: Decimal) -> Decimal:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            return Decimal(raw)
        except InvalidOperation as exc:
            raise ConfigurationError(f"{PREFIX}{name} must be a number, got {raw!r}.") from exc

    def flag(self, name: str, default: bool) -> bool:
        raw = self.optional(name)
        if raw is None:
            return default
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise ConfigurationError(f"{PREFIX}{name} must be true or false, got {raw!r}.")
