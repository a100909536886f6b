"""Import-provider credentials: checked, sealed at rest, opened, and resolved for an import.

Credentials are sealed as one JSON object with the credential keyring, bound to the
organization and the provider (a sealed Arbox password opens for no other org or use).

:func:`resolve_source_credentials` is what an import calls: credentials sent with the
import request replace the stored ones **whole** (they are not merged field by field, so an
import sent with an API key alone runs on the Business API alone, whatever is stored), and are
never stored. A stored secret that no configured key opens raises
:class:`~fitdata_core.errors.CredentialsUnreadable` naming the key id and what to do.
"""

from __future__ import annotations

import json
from typing import Final

import attrs

from fitdata_core.errors import CredentialsUnreadable, InvalidInput
from fitdata_core.model.jobs import ImportProviderConfig, ImportSource
from fitdata_core.ports.infrastructure import Ciphertext
from fitdata_core.ports.providers import SourceCredentials
from fitdata_core.rules.validation import validate_email
from fitdata_core.services import Services

__all__ = [
    "ARBOX",
    "BODY_FIELDS",
    "IMPORT_FIELDS",
    "MAX_API_KEY_LENGTH",
    "MAX_EMAIL_LENGTH",
    "MAX_PASSWORD_LENGTH",
    "CredentialFields",
    "check_credentials",
    "credentials_context",
    "has_inline_credentials",
    "open_credentials",
    "resolve_source_credentials",
    "seal_credentials",
]

ARBOX: Final = ImportSource.ARBOX.value
"""The one provider with stored credentials."""

# Far beyond any real Arbox key or login, small enough that nobody stores a file in them.
MAX_API_KEY_LENGTH: Final = 512
MAX_EMAIL_LENGTH: Final = 254  # RFC 5321's limit on a forward path
MAX_PASSWORD_LENGTH: Final = 256


@attrs.frozen
class CredentialFields:
    """How the caller names the three fields, so a 400 names what the client sent."""

    api_key: str
    email: str
    password: str


BODY_FIELDS = CredentialFields("apiKey", "email", "password")
"""The provider-config body's names."""

IMPORT_FIELDS = CredentialFields("arboxApiKey", "arboxEmail", "arboxPassword")
"""The import request's names (the spec's ImportConfigDto)."""


def credentials_context(org_id: str, provider: str) -> str:
    """Binds sealed credentials to their organization and provider."""
    return f"import-provider:{provider}:{org_id}"


def _trimmed(value: str | None, field: str, max_length: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > max_length:
        # The length only: the value is a secret.
        raise InvalidInput(f"{field} must be at most {max_length} characters.", field=field)
    return value or None


def check_credentials(
    api_key: str | None,
    email: str | None,
    password: str | None,
    *,
    fields: CredentialFields = BODY_FIELDS,
) -> SourceCredentials:
    """The credentials trimmed (a blank value counts as absent), or a 400 naming the field.

    At least an API key (Business API) or an email and a password (Management API) are
    needed; half a login is refused rather than silently dropped. No message quotes a value.
    """
    key = _trimmed(api_key, fields.api_key, MAX_API_KEY_LENGTH)
    login = _trimmed(email, fields.email, MAX_EMAIL_LENGTH)
    secret = _trimmed(password, fields.password, MAX_PASSWORD_LENGTH)
    if login is not None:
        try:
            validate_email(login, field=fields.email)
        except InvalidInput:
            raise InvalidInput(
                f"{fields.email} must be the email address of the Arbox login.",
                field=fields.email,
            ) from None
        if secret is None:
            raise InvalidInput(
                f"{fields.password} is required with {fields.email} (the Management API "
                "login needs both).",
                field=fields.password,
            )
    elif secret is not None:
        raise InvalidInput(
            f"{fields.email} is required with {fields.password} (the Management API login "
            "needs both).",
            field=fields.email,
        )
    if key is None and login is None:
        raise InvalidInput(
            f"Credentials are missing: send {fields.api_key} (Business API), or "
            f"{fields.email} and {fields.password} (Management API), or all three.",
            field=fields.api_key,
        )
    return SourceCredentials(api_key=key, email=login, password=secret)


def _plaintext(credentials: SourceCredentials) -> bytes:
    values = {
        "apiKey": credentials.api_key,
        "email": credentials.email,
        "password": credentials.password,
    }
    return json.dumps({k: v for k, v in values.items() if v is not None}).encode()


def seal_credentials(
    svc: Services, org_id: str, provider: str, credentials: SourceCredentials
) -> Ciphertext:
    """``credentials`` sealed under the current key; the plaintext is kept nowhere."""
    return svc.cipher.encrypt(
        _plaintext(credentials), context=credentials_context(org_id, provider)
    )


def _unreadable(svc: Services, config: ImportProviderConfig, reason: str) -> CredentialsUnreadable:
    key_id = config.key_id
    re_enter = (
        f"Re-enter them (POST /organizations/{config.organization_id}/import/provider-config)"
    )
    if key_id not in svc.cipher.key_ids:
        message = (
            f"The stored {config.provider} credentials were sealed with key {key_id!r}, which "
            f"is no longer in the credential keyring (FITDATA_CREDENTIAL_KEYS). {re_enter}, or "
            f"have the operator add key {key_id!r} back to FITDATA_CREDENTIAL_KEYS after the "
            "current key and run `fitdata keys rotate`."
        )
    else:
        message = (
            f"The stored {config.provider} credentials (sealed with key {key_id!r}) cannot be "
            f"opened: {reason}. {re_enter}."
        )
    return CredentialsUnreadable(message, key_id=key_id)


def open_credentials(svc: Services, config: ImportProviderConfig) -> SourceCredentials:
    """The stored credentials in clear, for the import that uses them.

    Raises ``CredentialsUnreadable`` when no configured key opens them.
    """
    sealed = Ciphertext(key_id=config.key_id, blob=config.credentials_encrypted)
    try:
        plaintext = svc.cipher.decrypt(
            sealed, context=credentials_context(config.organization_id, config.provider)
        )
    except InvalidInput as exc:
        raise _unreadable(svc, config, "the value was altered or sealed for another use") from exc
    try:
        values = json.loads(plaintext)
        credentials = SourceCredentials(
            api_key=values.get("apiKey"),
            email=values.get("email"),
            password=values.get("password"),
        )
    except (ValueError, AttributeError, TypeError):
        # Not the secret's fault to show; only that it is not what we store.
        raise _unreadable(svc, config, "the stored value is not in a known format") from None
    return credentials


def has_inline_credentials(inline: SourceCredentials | None) -> bool:
    """Whether the request brought credentials of its own (any non-blank value)."""
    return inline is not None and any(
        value is not None and value.strip()
        for value in (inline.api_key, inline.email, inline.password)
    )


async def resolve_source_credentials(
    svc: Services, org_id: str, inline: SourceCredentials | None
) -> SourceCredentials:
    """The credentials an Arbox import of ``org_id`` runs with.

    Inline credentials (sent with the import) win whole when they hold any value; they are
    checked like stored ones (a 400 names the ``arbox...`` field) and never stored. Otherwise
    the org's active stored credentials are opened. Neither: ``InvalidInput`` saying so.
    A stored secret whose key is not configured: ``CredentialsUnreadable`` (409) naming the
    key id. The caller has already checked who may import.
    """
    if inline is not None and has_inline_credentials(inline):
        return check_credentials(
            inline.api_key, inline.email, inline.password, fields=IMPORT_FIELDS
        )
    async with svc.uow(read_only=True) as uow:
        config = await uow.provider_configs.get_active(org_id, ARBOX)
    if config is None:
        raise InvalidInput(
            "No Arbox credentials: send arboxApiKey, or arboxEmail and arboxPassword, with the "
            f"import, or store them first (POST /organizations/{org_id}/import/provider-config).",
            field=IMPORT_FIELDS.api_key,
        )
    return open_credentials(svc, config)
