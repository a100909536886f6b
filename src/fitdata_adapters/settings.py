"""Settings from ``FITDATA_*`` environment variables (documented in docs/configuration.md).

The run mode is explicit (``FITDATA_MODE``). In ``embedded`` mode (the default when neither
``FITDATA_DATABASE_URL`` nor ``FITDATA_REDIS_URL`` is set) everything runs under ``./var``:
SQLite, a local storage folder, an ``.eml`` mail outbox, an in-memory rate limiter, an
in-process worker and the Cardcom sandbox. In ``production`` mode nothing falls back: a
missing provider is a :class:`ConfigurationError` naming every missing setting (see
:meth:`Settings.require_production_ready`). Each external service has a base-URL variable so
tests and operators can point it anywhere.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TypeAlias
from urllib.parse import urlsplit

import attrs

from fitdata_adapters.private_fs import make_private_dir, unusable
from fitdata_core.errors import ConfigurationError
from fitdata_core.money import AmountError, exact_amount

PREFIX = "FITDATA_"

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

# Long enough for a database failover or a broker restart to finish, short enough that a
# client honouring it is not kept waiting long after a blip.
DEFAULT_RETRY_AFTER_SECONDS = 10
#: The longest import file retention (a hundred years: "keep them", without a date overflow).
MAX_FILE_RETENTION_DAYS = 36_500


class RunMode(StrEnum):
    """How a process finds its providers: ``embedded`` builds local stand-ins for whatever is
    not configured; ``production`` refuses to start without every real provider."""

    EMBEDDED = "embedded"
    PRODUCTION = "production"


# What production needs, as (the Settings attribute, the variable an operator sets). The
# order is the order of the refusal message.
PRODUCTION_REQUIREMENTS: tuple[tuple[str, str], ...] = (
    ("database_url", "DATABASE_URL"),
    ("redis_url", "REDIS_URL"),
    ("cardcom_base_url", "CARDCOM_BASE_URL"),
    ("smtp_url", "SMTP_URL"),
    ("s3_bucket", "S3_BUCKET"),
    ("credential_keys", "CREDENTIAL_KEYS"),
    ("jwt_secret", "JWT_SECRET"),
)


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
    # Arbox (imports): the origin both of its APIs live under.
    arbox_base_url: str
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
    # HTTP: the reverse proxies whose X-Forwarded-For is believed (none by default).
    trusted_proxies: tuple[IPNetwork, ...] = ()
    # Last, with a default, so code that builds Settings by hand stays embedded.
    mode: RunMode = RunMode.EMBEDDED
    # Which FITDATA_* variables were set (names only): production checks what the operator
    # configured, not the defaults filled in for embedded use.
    configured: frozenset[str] = frozenset()
    # Imports (the engine's tunables; see docs/imports.md).
    import_lease_seconds: int = 30
    import_batch_size: int = 1000
    import_slice_seconds: int = 20
    import_rate_limit_per_minute: int = 10
    import_max_upload_bytes: int = 5 * 1024 * 1024
    import_file_retention_days: int = 30

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

    @property
    def uses_arbox_sandbox(self) -> bool:
        """Embedded mode with no ``FITDATA_ARBOX_BASE_URL``: imports read the in-process
        Arbox sandbox. Production always uses the configured (or real) origin."""
        return not self.is_production and "ARBOX_BASE_URL" not in self.configured

    @property
    def is_production(self) -> bool:
        return self.mode is RunMode.PRODUCTION

    def missing_for_production(self, *, skip: Iterable[str] = ()) -> list[str]:
        """The ``FITDATA_*`` variables production needs and this process lacks, in order
        (``skip`` names Settings attributes whose provider the caller supplies itself)."""
        skipped = set(skip)
        return [
            PREFIX + variable
            for attribute, variable in PRODUCTION_REQUIREMENTS
            if attribute not in skipped and variable not in self.configured
        ]

    def require_production_ready(self, *, skip: Iterable[str] = ()) -> None:
        """In production mode, refuse (one :class:`ConfigurationError` naming every missing
        setting) rather than fall back to a sandbox, an outbox folder or a local key file."""
        if not self.is_production:
            return
        missing = self.missing_for_production(skip=skip)
        if missing:
            raise ConfigurationError(
                "FITDATA_MODE is production but these settings are missing: "
                + ", ".join(missing)
                + ". Production never falls back to the Cardcom sandbox, the mail outbox "
                "folder, local storage or a key kept in a local file."
            )

    def connections(self) -> list[str]:
        """What this process is connected to, one line per provider, secrets redacted (for
        ``fitdata serve``'s start-up banner)."""
        storage = (
            f"S3 bucket {self.s3_bucket}"
            + (f" at {_redact_url(self.s3_endpoint_url)}" if self.s3_endpoint_url else "")
            if self.s3_bucket
            else f"local folder {self.data_dir / 'storage'}"
        )
        return [
            f"database {_redact_url(self.database_url)}",
            "queue "
            + (f"Redis {_redact_url(self.redis_url)}" if self.redis_url else "in-process worker"),
            f"storage {storage}",
            "mail "
            + (
                f"SMTP {_redact_url(self.smtp_url)}"
                if self.smtp_url
                else f"outbox folder {self.data_dir / 'mail-outbox'}"
            ),
            "payments "
            + (
                f"Cardcom {_redact_url(self.cardcom_base_url)}"
                if self.cardcom_base_url
                else "embedded Cardcom sandbox"
            ),
            "credential keys "
            + ("from FITDATA_CREDENTIAL_KEYS" if self.credential_keys else "local key file"),
            "imports "
            + (
                "embedded Arbox sandbox (1,500 demo members, started on first import)"
                if self.uses_arbox_sandbox
                else f"Arbox {_redact_url(self.arbox_base_url)}"
            ),
        ]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = _Env(os.environ if environ is None else environ)
        data_dir = Path(env.text("DATA_DIR", "./var")).resolve()
        mode = _mode(env)
        jwt_secret = env.optional("JWT_SECRET")
        if jwt_secret is None:
            # Production never keeps a key in a local file: an empty secret here is refused
            # by require_production_ready before anything signs with it.
            jwt_secret = (
                "" if mode is RunMode.PRODUCTION else _embedded_secret(data_dir, "jwt-secret")
            )
        return cls(
            mode=mode,
            configured=env.configured(),
            data_dir=data_dir,
            database_url=env.text("DATABASE_URL", f"sqlite:///{data_dir / 'fitdata.db'}"),
            database_pool_size=env.integer("DATABASE_POOL_SIZE", 20, minimum=1),
            database_max_overflow=env.integer("DATABASE_MAX_OVERFLOW", 0, minimum=0),
            redis_url=env.optional("REDIS_URL"),
            jwt_secret=jwt_secret,
            public_url=env.text("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            cardcom_base_url=_strip(env.optional("CARDCOM_BASE_URL")),
            cardcom_terminal_number=env.integer("CARDCOM_TERMINAL_NUMBER", 1000),
            cardcom_api_name=env.text("CARDCOM_API_NAME", "fitdata-sandbox"),
            arbox_base_url=_origin(
                "ARBOX_BASE_URL", env.text("ARBOX_BASE_URL", "https://arboxserver.arboxapp.com")
            ),
            s3_bucket=env.optional("S3_BUCKET"),
            s3_endpoint_url=env.optional("S3_ENDPOINT_URL"),
            s3_region=env.text("S3_REGION", "auto"),
            s3_access_key_id=env.optional("S3_ACCESS_KEY_ID"),
            s3_secret_access_key=env.optional("S3_SECRET_ACCESS_KEY"),
            smtp_url=env.optional("SMTP_URL"),
            mail_from=env.text("MAIL_FROM", "fitdata <no-reply@fitdata.local>"),
            credential_keys=env.optional("CREDENTIAL_KEYS"),
            billing_schedule_enabled=env.flag("BILLING_SCHEDULE_ENABLED", True),
            price_pro=env.price("PRICE_PRO", Decimal("249")),
            price_elite=env.price("PRICE_ELITE", Decimal("449")),
            renewal_batch_limit=env.integer("RENEWAL_BATCH_LIMIT", 100),
            renewal_concurrency=env.integer("RENEWAL_CONCURRENCY", 8),
            export_rate_limit_per_minute=env.integer("EXPORT_RATE_LIMIT_PER_MINUTE", 10),
            retry_after_seconds=env.integer(
                "RETRY_AFTER_SECONDS", DEFAULT_RETRY_AFTER_SECONDS, minimum=1
            ),
            log_level=env.text("LOG_LEVEL", "INFO").upper(),
            log_json=env.flag("LOG_JSON", False),
            trusted_proxies=env.networks("TRUSTED_PROXIES"),
            import_lease_seconds=env.integer("IMPORT_LEASE_SECONDS", 30, minimum=2),
            import_batch_size=env.integer("IMPORT_BATCH_SIZE", 1000, minimum=1),
            import_slice_seconds=env.integer("IMPORT_SLICE_SECONDS", 20, minimum=1),
            import_rate_limit_per_minute=env.integer("IMPORT_RATE_LIMIT_PER_MINUTE", 10),
            import_max_upload_bytes=env.integer(
                "IMPORT_MAX_UPLOAD_BYTES", 5 * 1024 * 1024, minimum=1
            ),
            import_file_retention_days=env.integer(
                "IMPORT_FILE_RETENTION_DAYS", 30, minimum=1, maximum=MAX_FILE_RETENTION_DAYS
            ),
        )


def _mode(env: _Env) -> RunMode:
    """``FITDATA_MODE``, else production as soon as a database or Redis is configured."""
    raw = env.optional("MODE")
    if raw is None:
        configured = env.optional("DATABASE_URL") or env.optional("REDIS_URL")
        return RunMode.PRODUCTION if configured else RunMode.EMBEDDED
    try:
        return RunMode(raw.lower())
    except ValueError:
        raise ConfigurationError(
            f"{PREFIX}MODE must be embedded or production, got {raw!r}."
        ) from None


def _strip(value: str | None) -> str | None:
    return value.rstrip("/") if value else value


def _origin(name: str, url: str) -> str:
    """``scheme://host[:port]`` without a trailing slash; a path, query or credentials in it
    are refused, because every API path is appended to it."""
    parts = urlsplit(url.strip())
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ConfigurationError(
            f"{PREFIX}{name} must be an origin such as https://arboxserver.arboxapp.com"
            " (scheme, host and optional port; no path)."
        )
    return f"{parts.scheme}://{parts.netloc}"


def _redact_url(url: str) -> str:
    """``url`` without its credentials: the user info and the query (which may carry a
    password or a token) become ``***``."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    if "?" in rest:
        rest = rest.split("?", 1)[0] + "?***"
    return scheme + sep + rest


def _embedded_secret(data_dir: Path, name: str) -> str:
    """A random secret kept in the data dir, so embedded mode works with nothing configured
    and tokens survive restarts."""
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    try:
        make_private_dir(data_dir)
    except OSError as exc:
        raise ConfigurationError(unusable("DATA_DIR", data_dir, exc)) from None
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


class _Env:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._env = environ

    def configured(self) -> frozenset[str]:
        """The names (without the prefix) of the variables set to something non-blank."""
        return frozenset(
            key.removeprefix(PREFIX)
            for key, value in self._env.items()
            if key.startswith(PREFIX) and value.strip()
        )

    def optional(self, name: str) -> str | None:
        value = self._env.get(PREFIX + name, "").strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def integer(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
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
        if maximum is not None and value > maximum:
            raise ConfigurationError(f"{PREFIX}{name} must be at most {maximum}, got {raw!r}.")
        return value

    def price(self, name: str, default: Decimal) -> Decimal:
        """A positive amount of ILS written exactly (see ``fitdata_core.money.exact_amount``)."""
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            amount = exact_amount(raw)
        except AmountError as exc:
            raise ConfigurationError(f"{PREFIX}{name} {exc}") from None
        if amount <= 0:
            raise ConfigurationError(f"{PREFIX}{name} must be positive, got {raw!r}.")
        return amount

    def networks(self, name: str) -> tuple[IPNetwork, ...]:
        """Comma-separated IP addresses or CIDR networks; none when unset."""
        raw = self.optional(name)
        if raw is None:
            return ()
        found: list[IPNetwork] = []
        for item in (part.strip() for part in raw.split(",")):
            if not item:
                continue
            try:
                found.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ConfigurationError(
                    f"{PREFIX}{name} must be comma-separated IP addresses or networks "
                    f"(e.g. 10.0.0.5, 10.1.0.0/16), got {item!r}."
                ) from None
        return tuple(found)

    def flag(self, name: str, default: bool) -> bool:
        raw = self.optional(name)
        if raw is None:
            return default
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise ConfigurationError(f"{PREFIX}{name} must be true or false, got {raw!r}.")
