"""Which credentials an import uses: the request's own, else the org's stored ones.

A minimal version: the provider-config work replaces this module with the full one (same
signature). Inline credentials override the stored ones and are never stored.
"""

from __future__ import annotations

import json

from fitdata_core.errors import FitdataError, InvalidInput
from fitdata_core.ports.infrastructure import Ciphertext
from fitdata_core.ports.providers import SourceCredentials
from fitdata_core.services import Services

ARBOX_PROVIDER = "arbox"


def provider_context(org_id: str, provider: str = ARBOX_PROVIDER) -> str:
    """What sealed provider credentials are bound to."""
    return f"provider-config:{org_id}:{provider}"


async def resolve_source_credentials(
    svc: Services, org_id: str, inline: SourceCredentials | None
) -> SourceCredentials:
    """``inline`` when it holds an API key or a login, else the org's stored credentials.

    Raises ``InvalidInput`` when there are none anywhere, and a ``FitdataError`` naming the
    key id when the stored secret was sealed with a key that is no longer configured.
    """
    if inline is not None and (inline.has_api_key or inline.has_management_login):
        return inline
    async with svc.uow(read_only=True) as uow:
        config = await uow.provider_configs.get_active(org_id, ARBOX_PROVIDER)
    if config is None:
        raise InvalidInput(
            "No Arbox credentials: give arboxApiKey (or arboxEmail and arboxPassword), or "
            "store them first with POST /organizations/{orgId}/import/provider-config.",
            field="arboxApiKey",
        )
    try:
        plain = svc.cipher.decrypt(
            Ciphertext(config.key_id, config.credentials_encrypted),
            context=provider_context(org_id),
        )
    except FitdataError as exc:
        raise InvalidInput(
            f"The stored Arbox credentials were sealed with key {config.key_id!r}, which is "
            "not configured any more: add that key back to FITDATA_CREDENTIAL_KEYS or "
            "re-enter the credentials.",
            field="arboxApiKey",
            code="UNDECRYPTABLE",
        ) from exc
    data = json.loads(plain)
    return SourceCredentials(
        api_key=data.get("apiKey"), email=data.get("email"), password=data.get("password")
    )
