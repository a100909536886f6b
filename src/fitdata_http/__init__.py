"""fitdata's HTTP API (Litestar): the app factory, auth, guards, the error mapper.

Conventions are documented in ``docs/http-api.md``.
"""

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
