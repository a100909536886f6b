"""The OpenAPI document served at ``/schema`` (``/schema/openapi.json`` for the raw JSON)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme

__all__ = ["BEARER", "BEARER_SCHEME", "openapi_config"]

BEARER_SCHEME = "bearerAuth"
BEARER: list[SecurityRequirement] = [{BEARER_SCHEME: []}]
"""Put ``security = BEARER`` on every controller whose handlers take ``actor``."""


def _version() -> str:
    try:
        return version("fitdata")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def operation_id(route_handler: Any, http_method: Any, path_components: Any) -> str:
    """The operation id: the handler's name in camelCase (``list_members`` -> ``listMembers``),
    which is what a generated client names its function. Handler names must therefore be
    unique across the API (``tests/unit/http/test_http_openapi_contract.py`` checks)."""
    del http_method, path_components
    first, *rest = str(route_handler.handler_name).split("_")
    return first + "".join(part.title() for part in rest)


def openapi_config() -> OpenAPIConfig:
    """The document's metadata, bearer scheme and operation ids."""
    return OpenAPIConfig(
        title="fitdata",
        version=_version(),
        description=(
            "Exports, imports and platform billing for a gym-management platform. "
            "Conventions (auth, envelope, errors, paging) are in docs/http-api.md."
        ),
        path="/schema",
        operation_id_creator=operation_id,
        render_plugins=[ScalarRenderPlugin()],
        components=Components(
            security_schemes={
                BEARER_SCHEME: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description="An HS256 JWT whose `sub` is the user id.",
                )
            }
        ),
    )
