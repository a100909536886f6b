"""Input the databases themselves would refuse (NUL characters, values beyond a column)
is a 400 naming the field on SQLite and Postgres alike, never a 500 from the driver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fitdata_adapters.bootstrap import Runtime, bootstrap
from fitdata_adapters.memory import MemoryJobQueue
from fitdata_adapters.settings import Settings
from fitdata_adapters.tokens import issue_token
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.usecases.organizations import create_organization
from support.fakes import NoPayments

pytestmark = pytest.mark.integration

Client = AsyncTestClient[Litestar]
JWT_SECRET = "integration-http-jwt-secret-long-enough-for-hs256"


@pytest.fixture
async def runtime(tmp_path: Path, database_url: str) -> AsyncIterator[Runtime]:
    settings = Settings.from_env(
        {
            "FITDATA_DATA_DIR": str(tmp_path),
            "FITDATA_MODE": "embedded",
            "FITDATA_DATABASE_URL": database_url,
            "FITDATA_JWT_SECRET": JWT_SECRET,
        }
    )
    rt = bootstrap(settings, payment_gateway=NoPayments(), queue=MemoryJobQueue())
    try:
        yield rt
    finally:
        await rt.aclose()


@pytest.fixture
async def owner(runtime: Runtime) -> tuple[str, dict[str, str]]:
    """An elite organization's id and its owner's bearer header."""
    svc = runtime.services
    org = await create_organization(svc, name="Haifa Boxing", owner_email="owner@box.io")
    async with svc.uow() as uow:
        found = await uow.organizations.get(org.id)
        assert found is not None
        await uow.organizations.update(found.with_tier(PlatformTier.ELITE))
        user = await uow.users.get_by_email("owner@box.io")
        await uow.commit()
    assert user is not None
    jwt = issue_token(JWT_SECRET, user.id, now=datetime.now(UTC), ttl=timedelta(minutes=5))
    return org.id, {"Authorization": f"Bearer {jwt}"}


CASES: list[tuple[str, str, Any, str]] = [
    ("POST", "billing/verify-checkout", {"lowProfileId": "lp\x00"}, "lowProfileId"),
    ("POST", "billing/verify-checkout", {"lowProfileId": "  "}, "lowProfileId"),
    ("POST", "billing/verify-checkout", {"lowProfileId": "a" * 5000}, "lowProfileId"),
    ("POST", "plans", {"name": "A", "kind": "membership", "price": "1e20"}, "price"),
    ("POST", "plans", {"name": "A\x00", "kind": "membership", "price": 1}, "name"),
    (
        "POST",
        "plans",
        {"name": "A", "kind": "membership", "price": 1, "validityDays": 2**40},
        "validityDays",
    ),
    (
        "POST",
        "plans",
        {"name": "A", "kind": "class_pack", "price": 1, "sessionCount": 2**40},
        "sessionCount",
    ),
    ("POST", "locations", {"name": "Main", "address": "x" * 600}, "address"),
    ("POST", "courses", {"name": "Yoga", "description": "calm\x00"}, "description"),
    ("GET", "export/jobs/%00", None, "jobId"),
    ("GET", "export/jobs?offset=99999999999999999999", None, "offset"),
    ("GET", "billing/events?offset=99999999999999999999", None, "offset"),
    ("GET", "analytics/revenue-trend?from=9999-01-01&to=9999-12-31", None, "from"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), CASES)
async def test_input_a_database_would_refuse_is_400(
    client: Client,
    owner: tuple[str, dict[str, str]],
    method: str,
    path: str,
    body: Any,
    field: str,
) -> None:
    org_id, headers = owner
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body

    response = await client.request(method, f"/organizations/{org_id}/{path}", **kwargs)

    assert response.status_code == 400, response.text
    assert response.json()["field"] == field


async def test_a_webhook_with_a_nul_in_its_id_is_answered_unknown(client: Client) -> None:
    response = await client.post("/webhooks/cardcom", json={"LowProfileId": "lp\x00"})

    assert response.status_code == 200
    assert response.json() == {"status": "unknown"}
