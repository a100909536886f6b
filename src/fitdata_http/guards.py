"""Route guards: the platform-tier feature gate.

``guards=[requires_feature(Feature.COURSES)]`` on a controller or handler refuses the request
with 403 ``Feature "courses" requires a higher platform tier`` unless the organization named
by the ``orgId`` path parameter is on a tier that includes the feature. The tier is read on
every request, so a downgrade takes effect on the very next one.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.types import Guard

from fitdata_core.access import require_active_member, require_feature
from fitdata_core.model.tiers import Feature
from fitdata_http.auth import authenticate, requires_platform_admin
from fitdata_http.context import runtime_of
from fitdata_http.params import ORG_ID_PARAM, parse_org_id

__all__ = ["requires_feature", "requires_platform_admin"]


def requires_feature(feature: Feature) -> Guard:
    """A guard that requires the path's organization to have ``feature`` in its tier.

    Order of refusals: 401 for a missing or bad token (before anything about the org is
    revealed), 400 for a malformed ``orgId``, 403 ``FORBIDDEN`` for a caller who is not an
    active member of the org, then 403 ``FEATURE_NOT_IN_TIER`` when the tier lacks the
    feature. Membership comes before the tier so an outsider hears the same refusal from a
    lite org as from a pro one (the tier is the org's business, not theirs). An unknown org
    passes, so the use case answers 404 as it does everywhere. A route without an ``orgId``
    parameter passes too (spec T6): such routes bind the org themselves.
    """

    async def tier_guard(
        connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        actor = await authenticate(connection)
        raw_org_id = connection.path_params.get(ORG_ID_PARAM)
        if raw_org_id is None:
            return
        org_id = parse_org_id(str(raw_org_id))
        async with runtime_of(connection).services.uow(read_only=True) as uow:
            org = await uow.organizations.get(org_id)
            membership = await uow.memberships.get(org_id, actor.user_id) if org else None
        if org is not None:
            require_active_member(membership)
            require_feature(org.platform_tier, feature)

    tier_guard.__name__ = f"requires_feature_{feature.value}"
    return tier_guard
