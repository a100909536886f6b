"""``/organizations/{orgId}/import/provider-config``: store and describe the org's Arbox
credentials (owner, admin).

``POST {apiKey?, email?, password?}`` stores them sealed (at least an API key, or an email
and a password) and replaces what was stored: 201 with the metadata. ``GET`` answers the
metadata of what is stored, 200 with ``hasCredentials: false`` when nothing is. No response
and no log line ever carries a credential: the metadata says only which kinds are present.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import attrs
from litestar import Controller, get, post
from litestar.openapi.spec import OpenAPIType, Schema

from fitdata_adapters.logging import get_logger
from fitdata_core.usecases.imports import credentials as creds
from fitdata_core.usecases.imports.provider_config import (
    ProviderConfigView,
    get_provider_config,
    save_provider_config,
)
from fitdata_http.contract import answers
from fitdata_http.deps import ActorDep, OrgIdDep, ServicesDep
from fitdata_http.envelope import Envelope, created, ok
from fitdata_http.openapi import BEARER
from fitdata_http.params import ORG_PATH, read_body
from fitdata_http.schemas import json_body, limits

__all__ = ["ImportProviderController", "ProviderConfigResponse", "ProviderCredentials"]

_log = get_logger("fitdata.http")


_EMAIL = Schema(type=OpenAPIType.STRING, format="email")  # type: ignore[arg-type]


def _given(*names: str) -> Schema:
    """The fields ``names`` are given: present, and text that is not only spaces (the values
    are trimmed, and a blank one counts as absent)."""
    return Schema(
        required=list(names),
        properties={name: Schema(type=OpenAPIType.STRING, pattern=r"\S") for name in names},
    )


# The rules across fields, as the use case checks them: an API key or a whole login (400
# naming apiKey otherwise), and never half a login (400 naming the missing half); an email
# that is given is an email address.
_CREDENTIAL_RULES: dict[str, Any] = {
    "any_of": [_given("apiKey"), _given("email", "password")],
    "all_of": [
        Schema(schema_if=_given("email"), then=_given("password")),
        Schema(schema_if=_given("password"), then=_given("email")),
        Schema(schema_if=_given("email"), then=Schema(properties={"email": _EMAIL})),
    ],
}


@attrs.frozen(repr=False)
class ProviderCredentials:
    """``{apiKey?, email?, password?}``: an API key (Business API), an email and a password
    (Management API), or all three."""

    api_key: str | None = attrs.field(
        default=None, metadata=limits(max_length=creds.MAX_API_KEY_LENGTH)
    )
    email: str | None = attrs.field(
        default=None, metadata=limits(max_length=creds.MAX_EMAIL_LENGTH)
    )
    password: str | None = attrs.field(
        default=None, metadata=limits(max_length=creds.MAX_PASSWORD_LENGTH)
    )

    def __repr__(self) -> str:  # every field is a secret
        return "ProviderCredentials(<redacted>)"


@attrs.frozen
class ProviderConfigResponse:
    """The stored credentials' metadata, never their values.

    ``hasApiKey``/``hasManagementLogin`` are null and ``readable`` false when the stored
    credentials were sealed with a key that is no longer configured (``problem`` says what to
    do); ``readable`` is null when nothing is stored.
    """

    provider: str
    has_credentials: bool
    has_api_key: bool | None
    has_management_login: bool | None
    created_at: datetime | None
    key_id: str | None
    readable: bool | None
    problem: str | None

    @classmethod
    def of(cls, view: ProviderConfigView) -> ProviderConfigResponse:
        return cls(
            provider=view.provider,
            has_credentials=view.has_credentials,
            has_api_key=view.has_api_key,
            has_management_login=view.has_management_login,
            created_at=view.created_at,
            key_id=view.key_id,
            readable=view.readable,
            problem=view.problem,
        )


_CREDENTIALS_BODY = json_body(
    ProviderCredentials,
    f"At least `apiKey`, or `email` and `password`. Values are trimmed; `apiKey` up to "
    f"{creds.MAX_API_KEY_LENGTH} characters, `email` up to {creds.MAX_EMAIL_LENGTH}, "
    f"`password` up to {creds.MAX_PASSWORD_LENGTH}. Neither an API key nor a whole login is "
    "400 `INVALID_INPUT` naming `apiKey`; half a login is 400 naming the missing half.",
    constraints=_CREDENTIAL_RULES,
)


class ImportProviderController(Controller):
    path = ORG_PATH + "/import/provider-config"
    tags = ["imports"]  # noqa: RUF012 - Litestar reads these as class attributes
    security = BEARER

    @post(
        "/",
        opt=answers(ProviderConfigResponse),
        summary="Store the Arbox credentials (owner, admin); replaces the stored ones",
    )
    async def save_import_provider_config(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        data: Annotated[dict[str, Any], _CREDENTIALS_BODY],
    ) -> Envelope:
        body = read_body(data, ProviderCredentials)
        view = await save_provider_config(
            services,
            actor,
            org_id,
            api_key=body.api_key,
            email=body.email,
            password=body.password,
        )
        # An audit line with the shape only: who stored what kind, sealed with which key.
        _log.info(
            "import_provider_config_saved",
            org_id=org_id,
            user_id=actor.user_id,
            provider=view.provider,
            key_id=view.key_id,
            # Which APIs the credentials open (a field named like a secret would be redacted).
            apis=[
                name
                for name, present in (
                    ("business", view.has_api_key),
                    ("management", view.has_management_login),
                )
                if present
            ],
        )
        return created(ProviderConfigResponse.of(view))

    @get(
        "/",
        opt=answers(ProviderConfigResponse),
        summary="Metadata of the stored Arbox credentials (owner, admin); no secret",
    )
    async def get_import_provider_config(
        self, services: ServicesDep, actor: ActorDep, org_id: OrgIdDep
    ) -> Envelope:
        view = await get_provider_config(services, actor, org_id)
        return ok(ProviderConfigResponse.of(view))
