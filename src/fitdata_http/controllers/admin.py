"""``/admin/...``: the platform operators' routes (platform-admin token required)."""

from __future__ import annotations

from litestar import Controller, post

from fitdata_core.usecases import billing
from fitdata_http.contract import answers
from fitdata_http.deps import ActorDep, OrgIdDep, ServicesDep
from fitdata_http.envelope import Envelope, ok
from fitdata_http.guards import requires_platform_admin
from fitdata_http.openapi import BEARER
from fitdata_http.params import ORG_PATH

__all__ = ["AdminBillingController"]


class AdminBillingController(Controller):
    path = "/admin" + ORG_PATH + "/billing"
    tags = ["admin"]  # noqa: RUF012 - Litestar reads these as class attributes
    security = BEARER
    guards = [requires_platform_admin]  # noqa: RUF012

    @post(
        "/force-cancel",
        status_code=200,
        opt=answers(billing.BillingStatus),
        summary="Cancel the subscription now and move the org to lite (platform admin)",
    )
    async def force_cancel(
        self, services: ServicesDep, actor: ActorDep, org_id: OrgIdDep
    ) -> Envelope:
        """Every in-flight charge of the org is cancelled too, so a late webhook changes
        nothing (C5, W5)."""
        return ok(await billing.force_cancel(services, actor, org_id))
