"""The one error tree of fitdata.

Every failure a caller can act on is one of these. Adapters translate infrastructure
exceptions into them (``raise ... from exc``); the HTTP layer maps them to status codes in one
place (``fitdata_http.errors``); workers treat :class:`Unavailable` as retryable.

::

    FitdataError
    ├── InvalidInput               400  bad input; names the field when there is one
    │   └── BusinessRuleViolation  400  a valid request the rules refuse (carries a ``code``)
    ├── AuthenticationRequired     401
    ├── PermissionDenied           403
    │   └── FeatureNotInTier       403  the org's platform tier lacks a feature
    ├── NotFound                   404
    ├── Conflict                   409
    │   ├── IllegalTransition      409  a state machine refused a move
    │   └── IdempotencyKeyInUse    409  a request with the same Idempotency-Key is still running
    ├── Gone                       410  it existed, and was deleted on purpose (a retention rule)
    ├── IdempotencyKeyReused       422  an Idempotency-Key sent again with a different request
    ├── PayloadTooLarge            413
    ├── RateLimited                429  carries ``retry_after`` seconds
    ├── CredentialsUnreadable      409  a stored secret no configured key opens (names the key id)
    ├── ConfigurationError         the deployment's settings are missing or malformed
    └── Unavailable                503  infrastructure failed; safe to retry later
        ├── DatabaseUnavailable
        ├── StorageUnavailable
        ├── QueueUnavailable
        ├── MailUnavailable
        └── ProviderError           an external provider (Cardcom, Arbox) failed or refused
            └── ProviderAuthError   the provider rejected our credentials

Messages never contain secrets: adapters build them from what is safe to show.
"""

from __future__ import annotations

__all__ = [
    "DATABASE_CONTENTION",
    "AuthenticationRequired",
    "BusinessRuleViolation",
    "ConfigurationError",
    "Conflict",
    "CredentialsUnreadable",
    "DatabaseUnavailable",
    "FeatureNotInTier",
    "FitdataError",
    "Gone",
    "IdempotencyKeyInUse",
    "IdempotencyKeyReused",
    "IllegalTransition",
    "InvalidInput",
    "MailUnavailable",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProviderAuthError",
    "ProviderError",
    "QueueUnavailable",
    "RateLimited",
    "StorageUnavailable",
    "Unavailable",
]


class FitdataError(Exception):
    """Base of every fitdata error. ``code`` is a stable machine-readable name."""

    default_code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code

    def __str__(self) -> str:
        return self.message


class InvalidInput(FitdataError):
    """The request is malformed or names a value that is not allowed."""

    default_code = "INVALID_INPUT"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class BusinessRuleViolation(InvalidInput):
    """A well-formed request that the business rules refuse (e.g. ``PAYMENT_REQUIRED``)."""

    default_code = "BUSINESS_RULE"


class AuthenticationRequired(FitdataError):
    """No valid credentials: a missing, malformed, expired or revoked token (HTTP 401)."""

    default_code = "UNAUTHENTICATED"


class PermissionDenied(FitdataError):
    """The caller is known but may not do this (HTTP 403)."""

    default_code = "FORBIDDEN"


class FeatureNotInTier(PermissionDenied):
    """The organization's platform tier does not include ``feature``."""

    default_code = "FEATURE_NOT_IN_TIER"

    def __init__(self, feature: str) -> None:
        super().__init__(f'Feature "{feature}" requires a higher platform tier')
        self.feature = feature


class NotFound(FitdataError):
    """The thing asked for does not exist, or the caller may not know it exists (HTTP 404)."""

    default_code = "NOT_FOUND"


class Conflict(FitdataError):
    """The request contradicts the current state, e.g. a duplicate (HTTP 409)."""

    default_code = "CONFLICT"


class IllegalTransition(Conflict):
    """A state machine was asked for a move its transition table does not allow."""

    default_code = "ILLEGAL_TRANSITION"

    def __init__(self, machine: str, current: str, target: str) -> None:
        super().__init__(f"{machine} cannot move from {current!r} to {target!r}")
        self.machine = machine
        self.current = current
        self.target = target


class IdempotencyKeyInUse(Conflict):
    """The first request sent with this ``Idempotency-Key`` has not finished yet: retry
    shortly and get its answer (HTTP 409)."""

    default_code = "IDEMPOTENCY_KEY_IN_USE"


class Gone(FitdataError):
    """What the request needs existed and was deleted on purpose, for good (a stored import
    file past its retention period): the message says when and what to do instead (HTTP
    410)."""

    default_code = "GONE"


class IdempotencyKeyReused(FitdataError):
    """An ``Idempotency-Key`` already used for a different request (another body, route or
    caller) within its retention window (HTTP 422)."""

    default_code = "IDEMPOTENCY_KEY_REUSED"


class PayloadTooLarge(FitdataError):
    """The input is larger than the service accepts (HTTP 413)."""

    default_code = "PAYLOAD_TOO_LARGE"


class RateLimited(FitdataError):
    """Too many requests; ``retry_after`` says in how many seconds to try again (HTTP 429)."""

    default_code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CredentialsUnreadable(FitdataError):
    """A stored secret (provider credentials, a card token) that no configured key opens.

    ``key_id`` names the key that sealed it; the message says what to do (re-enter the
    credentials or configure that key again) and never contains the secret.
    """

    default_code = "CREDENTIALS_UNREADABLE"

    def __init__(self, message: str, *, key_id: str) -> None:
        super().__init__(message)
        self.key_id = key_id


class ConfigurationError(FitdataError):
    """A setting is missing or malformed; the message names the environment variable."""

    default_code = "CONFIGURATION"


class Unavailable(FitdataError):
    """Infrastructure failed. Retrying later may succeed."""

    default_code = "UNAVAILABLE"


#: The code of a :class:`DatabaseUnavailable` raised because the database rolled a transaction
#: back to break a deadlock or a serialization conflict: running the unit of work again may
#: succeed at once.
DATABASE_CONTENTION = "DATABASE_CONTENTION"


class DatabaseUnavailable(Unavailable):
    """The database did not answer or lost the connection; retryable (HTTP 503). ``code`` is
    :data:`DATABASE_CONTENTION` when it rolled the transaction back to break a deadlock."""

    default_code = "DATABASE_UNAVAILABLE"


class StorageUnavailable(Unavailable):
    """Object storage did not answer; retryable (HTTP 503)."""

    default_code = "STORAGE_UNAVAILABLE"


class QueueUnavailable(Unavailable):
    """The job queue did not accept the message; retryable (HTTP 503)."""

    default_code = "QUEUE_UNAVAILABLE"


class MailUnavailable(Unavailable):
    """The mail server did not accept the message; retryable (HTTP 503)."""

    default_code = "MAIL_UNAVAILABLE"


class ProviderError(Unavailable):
    """An external provider failed, timed out or answered with an API-level error."""

    default_code = "PROVIDER_ERROR"

    def __init__(self, provider: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.status = status


class ProviderAuthError(ProviderError):
    """A provider refused our credentials (a terminal or API key to fix, not a blip)."""

    default_code = "PROVIDER_AUTH"
