"""Store an organization's import-provider credentials, and read back what is stored.

Saving replaces: the org's active row for the provider is deactivated and the new sealed row
inserted in one unit of work, under the organization's row lock, so concurrent saves queue and
exactly one row stays active. Reading returns metadata only, never a secret.

When nothing is stored the metadata says ``has_credentials=False`` (a 200, not a 404): the
dashboard asks before anything was ever saved.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from fitdata_core.access import Action
from fitdata_core.errors import CredentialsUnreadable
from fitdata_core.model.jobs import ImportProviderConfig
from fitdata_core.ports.providers import SourceCredentials
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.common import authorize
from fitdata_core.usecases.imports.credentials import (
    ARBOX,
    check_credentials,
    open_credentials,
    seal_credentials,
)

__all__ = ["ProviderConfigView", "get_provider_config", "save_provider_config"]


@attrs.frozen
class ProviderConfigView:
    """What a client may know about stored credentials: their shape, never their values.

    ``has_api_key`` and ``has_management_login`` are ``None`` when the stored credentials
    cannot be opened (``readable`` is then False: their key is no longer configured, and
    ``problem`` says what to do). ``readable`` is ``None`` when nothing is stored.
    """

    provider: str
    has_credentials: bool
    has_api_key: bool | None
    has_management_login: bool | None
    created_at: datetime | None
    key_id: str | None
    readable: bool | None
    problem: str | None = None

    @classmethod
    def none_stored(cls, provider: str) -> ProviderConfigView:
        return cls(provider, False, False, False, None, None, None)

    @classmethod
    def of(cls, config: ImportProviderConfig, credentials: SourceCredentials) -> ProviderConfigView:
        return cls(
            provider=config.provider,
            has_credentials=True,
            has_api_key=credentials.has_api_key,
            has_management_login=credentials.has_management_login,
            created_at=config.created_at,
            key_id=config.key_id,
            readable=True,
        )

    @classmethod
    def unreadable(
        cls, config: ImportProviderConfig, error: CredentialsUnreadable
    ) -> ProviderConfigView:
        return cls(
            provider=config.provider,
            has_credentials=True,
            has_api_key=None,
            has_management_login=None,
            created_at=config.created_at,
            key_id=config.key_id,
            readable=False,
            problem=error.message,
        )


async def save_provider_config(
    svc: Services,
    actor: Actor,
    org_id: str,
    *,
    api_key: str | None,
    email: str | None,
    password: str | None,
    provider: str = ARBOX,
) -> ProviderConfigView:
    """Store new credentials for ``provider`` (owner or admin), replacing the active ones.

    400 naming the field when a value is too long, the email is not one, half a login is
    sent, or nothing usable is sent at all (see
    :func:`~fitdata_core.usecases.imports.credentials.check_credentials`).
    """
    async with svc.uow() as uow:
        await authorize(uow, actor, org_id, Action.IMPORT)
        credentials = check_credentials(api_key, email, password)
        # Concurrent saves for one org queue on its row lock, so each one deactivates what
        # the previous one stored: exactly one row stays active.
        await uow.organizations.get_for_update(org_id)
        await uow.provider_configs.deactivate_all(org_id, provider)
        sealed = seal_credentials(svc, org_id, provider, credentials)
        config = ImportProviderConfig(
            id=svc.ids.new_id(),
            organization_id=org_id,
            provider=provider,
            credentials_encrypted=sealed.blob,
            key_id=sealed.key_id,
            is_active=True,
            created_at=svc.clock.now(),
            created_by=actor.user_id,
        )
        await uow.provider_configs.add(config)
        await uow.commit()
    return ProviderConfigView.of(config, credentials)


async def get_provider_config(
    svc: Services, actor: Actor, org_id: str, *, provider: str = ARBOX
) -> ProviderConfigView:
    """Metadata of the active credentials for ``provider`` (owner or admin)."""
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.IMPORT)
        config = await uow.provider_configs.get_active(org_id, provider)
    if config is None:
        return ProviderConfigView.none_stored(provider)
    try:
        credentials = open_credentials(svc, config)
    except CredentialsUnreadable as exc:
        return ProviderConfigView.unreadable(config, exc)
    return ProviderConfigView.of(config, credentials)
