"""fitdata's HTTP API (Litestar): the app factory, auth, guards, the error mapper.

Conventions are documented in ``docs/http-api.md``.

The names below load on first use (PEP 562). Every ``fitdata`` command imports
``fitdata_http.cli`` to list ``serve``, and that runs this file first: importing the app here
made ``fitdata worker``, ``fitdata migrate`` and ``fitdata --help`` load Litestar, every
controller and every adapter before doing anything (issue 12).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fitdata_http.app import create_app
    from fitdata_http.auth import authenticate, provide_actor, requires_platform_admin
    from fitdata_http.deps import ActorDep, OrgIdDep, ServicesDep
    from fitdata_http.envelope import Envelope, created, ok, paged
    from fitdata_http.errors import Problem, problem_for, problem_response
    from fitdata_http.guards import requires_feature
    from fitdata_http.openapi import BEARER
    from fitdata_http.params import ORG_PATH, Limit, Offset, parse_enum_values, read_body
    from fitdata_http.schemas import json_body

__all__ = [
    "BEARER",
    "ORG_PATH",
    "ActorDep",
    "Envelope",
    "Limit",
    "Offset",
    "OrgIdDep",
    "Problem",
    "ServicesDep",
    "authenticate",
    "create_app",
    "created",
    "json_body",
    "ok",
    "paged",
    "parse_enum_values",
    "problem_for",
    "problem_response",
    "provide_actor",
    "read_body",
    "requires_feature",
    "requires_platform_admin",
]

# Each public name and the module that defines it.
_HOMES = {
    "create_app": "app",
    "authenticate": "auth",
    "provide_actor": "auth",
    "requires_platform_admin": "auth",
    "ActorDep": "deps",
    "OrgIdDep": "deps",
    "ServicesDep": "deps",
    "Envelope": "envelope",
    "created": "envelope",
    "ok": "envelope",
    "paged": "envelope",
    "Problem": "errors",
    "problem_for": "errors",
    "problem_response": "errors",
    "requires_feature": "guards",
    "BEARER": "openapi",
    "ORG_PATH": "params",
    "Limit": "params",
    "Offset": "params",
    "parse_enum_values": "params",
    "read_body": "params",
    "json_body": "schemas",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # found once; later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
