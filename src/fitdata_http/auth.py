"""Bearer-token authentication: the ``actor`` dependency and the platform-admin guard.

A handler that declares ``actor: Actor`` (itself or through a dependency such as ``org_id``)
is authenticated; one that does not is public. The app-wide guard
:func:`authenticate_declared_actor` authenticates such routes before anything else runs, in
particular before Litestar reads the body, so an anonymous caller gets 401 whatever it sent.
Guards that need the caller await :func:`authenticate` themselves (guards run before
dependencies), and the result is cached on the request so the token is verified once.

A valid signature is not enough: each request reads the user's row (one primary-key read,
once per request) and refuses a token issued before the user's ``tokens_valid_after``
(``fitdata token revoke``) or for a user who no longer exists. The actor is a platform admin
only when the token claims it *and* the stored ``is_platform_admin`` flag is still set, so
clearing the flag takes effect on the next request.
"""

from __future__ import annotations

import inspect
import weakref
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from fitdata_adapters.tokens import verify_token
from fitdata_core.errors import AuthenticationRequired, InvalidInput, PermissionDenied
from fitdata_core.services import Actor
from fitdata_http.context import runtime_of
from fitdata_http.params import ORG_ID_PARAM, parse_org_id

__all__ = [
    "ACTOR_DEPENDENCY",
    "authenticate",
    "authenticate_declared_actor",
    "provide_actor",
    "requires_platform_admin",
]

ACTOR_DEPENDENCY = "actor"
_ACTOR_KEY = "fitdata_actor"
_SCHEME = "bearer"


def _bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    header = connection.headers.get("authorization")
    if not header:
        raise AuthenticationRequired("A bearer token is required.")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != _SCHEME or not token.strip():
        raise AuthenticationRequired('The Authorization header must be "Bearer <token>".')
    return token.strip()


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    """The caller, from ``Authorization: Bearer <jwt>``; AuthenticationRequired (401) if the
    token is missing, invalid, expired, revoked or its user is gone."""
    state = connection.scope.setdefault("state", {})
    cached = state.get(_ACTOR_KEY)
    if isinstance(cached, Actor):
        return cached
    runtime = runtime_of(connection)
    claims = verify_token(runtime.settings.jwt_secret, _bearer_token(connection))
    org_id = _path_org_id(connection)
    access = None
    # One statement: no BEGIN/ROLLBACK around it (two of a request's round trips). On an
    # org-scoped route it also reads the caller's standing in that org, which read-only use
    # cases then authorize against (see Actor.org_access): one statement less per request.
    async with runtime.services.uow(separate_reads=True) as uow:
        if org_id is None:
            user = await uow.users.get(claims.user_id)
        else:
            user, access = await uow.users.get_with_access(claims.user_id, org_id)
    if user is None or not user.accepts_token_issued_at(claims.issued_at):
        raise AuthenticationRequired("The bearer token has been revoked.")
    actor = Actor(
        user_id=claims.user_id,
        is_platform_admin=claims.is_platform_admin and user.is_platform_admin,
        org_access=access,
    )
    state[_ACTOR_KEY] = actor
    return actor


def _path_org_id(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The organization the route's path names, in canonical form; ``None`` when the route
    names none or the value is not an organization id (the route's own ``orgId`` dependency
    answers that with a 400 once the caller is known)."""
    value = connection.path_params.get(ORG_ID_PARAM)
    if not isinstance(value, str):
        return None
    try:
        return parse_org_id(value)
    except InvalidInput:
        return None


async def provide_actor(request: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    """Litestar dependency behind every ``actor: Actor`` parameter."""
    return await authenticate(request)


async def requires_platform_admin(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard for the platform's own operator routes: 401 without a valid token, 403 unless
    the token claims platform admin and the user's stored flag agrees."""
    if not (await authenticate(connection)).is_platform_admin:
        raise PermissionDenied("This route is for platform administrators.")


# Each handler's answer, worked out on its first request: the walk below reads signatures,
# which cost more than the rest of the guard on every request of a hot route.
_NEEDS_ACTOR: weakref.WeakKeyDictionary[BaseRouteHandler, bool] = weakref.WeakKeyDictionary()


def needs_actor(route_handler: BaseRouteHandler) -> bool:
    """Whether the handler asks for ``actor``, directly or through its dependencies."""
    known = _NEEDS_ACTOR.get(route_handler)
    if known is None:
        known = _NEEDS_ACTOR[route_handler] = _declares_actor(route_handler)
    return known


def _declares_actor(route_handler: BaseRouteHandler) -> bool:
    dependencies = route_handler.resolve_dependencies()
    pending = list(route_handler.parsed_fn_signature.parameters)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name == ACTOR_DEPENDENCY:
            return True
        if name in seen or name not in dependencies:
            continue
        seen.add(name)
        pending.extend(inspect.signature(dependencies[name].dependency).parameters)
    return False


async def authenticate_declared_actor(
    connection: ASGIConnection[Any, Any, Any, Any], route_handler: BaseRouteHandler
) -> None:
    """App-wide guard, first of all: 401 for an anonymous call to a route that needs a caller.

    Litestar reads a handler's body while it gathers the arguments, before dependencies such
    as ``actor`` run; without this guard a stranger's body would be parsed (and could be
    answered 400) before the missing token is noticed.
    """
    if needs_actor(route_handler):
        await authenticate(connection)
