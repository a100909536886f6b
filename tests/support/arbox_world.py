"""An Arbox import world for integration tests: the app over Postgres whose ``ArboxSource``
(the one the composition root builds) talks to the project's Arbox sandbox over a real socket,
a gym with an owner and a coach, and helpers to run an import through the API as a worker
would (:func:`support.imports.drain`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fitdata_adapters.arbox import ArboxSource
from fitdata_adapters.arbox_sandbox import SandboxConfig, SandboxThread
from fitdata_adapters.bootstrap import Runtime, bootstrap, import_policy
from fitdata_adapters.memory import MemoryJobQueue
from fitdata_adapters.settings import Settings
from fitdata_adapters.tokens import issue_token
from fitdata_core.model.organizations import Role
from fitdata_core.ports.repositories import UnitOfWorkFactory
from fitdata_core.usecases.organizations import NewMember, add_member, create_organization
from fitdata_http import create_app
from support.fakes import NoPayments
from support.imports import drain

Client = AsyncTestClient[Litestar]
JWT_SECRET = "integration-arbox-qa-jwt-secret-long-enough-for-hs256"
SANDBOX = SandboxConfig()  # its default API key and login
API_KEY = {"arboxApiKey": SANDBOX.api_key}
LOGIN = {"arboxEmail": SANDBOX.email, "arboxPassword": SANDBOX.password}
EVERYTHING = {"plans": True, "members": True, "leads": True}
STAFF = 2  # the owner and the coach are members of the gym too


@attrs.define
class World:
    runtime: Runtime
    client: Client
    arbox: SandboxThread
    org_id: str
    owner: dict[str, str]
    coach: dict[str, str]

    @property
    def base(self) -> str:
        return f"/organizations/{self.org_id}/import"

    async def start(self, **body: Any) -> str:
        """POST an import (everything, no enrichment unless ``body`` says otherwise); its id."""
        payload = {"source": "arbox", "entities": EVERYTHING, "enrich": False, **body}
        response = await self.client.post(self.base, json=payload, headers=self.owner)
        assert response.status_code == 202, response.text
        return str(response.json()["data"]["jobId"])

    async def job(self, job_id: str) -> dict[str, Any]:
        job = await self.client.get(f"{self.base}/jobs/{job_id}", headers=self.owner)
        assert job.status_code == 200, job.text
        return dict(job.json()["data"])

    async def run(self, **body: Any) -> dict[str, Any]:
        """Start an import, run its queued messages as a worker would, and read the job."""
        job_id = await self.start(**body)
        await drain(self.runtime.services)
        return await self.job(job_id)

    async def members(self) -> dict[str, dict[str, Any]]:
        """Every member of the gym by email, through the member list."""
        found: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            page = await self.client.get(
                f"/organizations/{self.org_id}/members?limit=100&offset={offset}",
                headers=self.owner,
            )
            assert page.status_code == 200, page.text
            rows = page.json()["data"]
            found.update({row["email"]: row for row in rows})
            offset += len(rows)
            if not rows or offset >= page.json()["meta"]["total"]:
                return found

    async def count(self, table: sa.Table) -> int:
        async with self.runtime.engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(table)
            return int((await conn.execute(query)).scalar_one())


def bearer(user_id: str) -> dict[str, str]:
    jwt = issue_token(JWT_SECRET, user_id, now=datetime.now(UTC), ttl=timedelta(minutes=30))
    return {"Authorization": f"Bearer {jwt}"}


@asynccontextmanager
async def arbox_world(
    tmp_path: Path,
    database_url: str,
    arbox: SandboxThread,
    *,
    uow: UnitOfWorkFactory | None = None,
    **policy: Any,
) -> AsyncIterator[World]:
    """A fresh world over ``database_url`` (emptied by the caller) and the reset sandbox;
    ``uow`` replaces the unit-of-work factory, ``policy`` overrides the import policy's
    fields (``slice_batches=1``...)."""
    arbox.sandbox.reset()
    settings = Settings.from_env(
        {
            "FITDATA_MODE": "embedded",
            "FITDATA_DATA_DIR": str(tmp_path),
            "FITDATA_DATABASE_URL": database_url,
            "FITDATA_JWT_SECRET": JWT_SECRET,
            "FITDATA_ARBOX_BASE_URL": arbox.base_url,
        }
    )
    runtime = bootstrap(
        settings,
        payment_gateway=NoPayments(),
        queue=MemoryJobQueue(),
        uow=uow,
        imports=attrs.evolve(import_policy(settings), **{"retry_delays": (0, 0), **policy}),
    )
    assert isinstance(runtime.services.member_source, ArboxSource)  # the real adapter
    svc = runtime.services
    org = await create_organization(svc, name="Arbox QA Gym", owner_email="owner@qa-gym.io")
    coach = await add_member(
        svc, org_id=org.id, member=NewMember(email="coach@qa-gym.io", role=Role.COACH)
    )
    async with svc.uow() as uow:
        owner = await uow.users.get_by_email("owner@qa-gym.io")
    assert owner is not None
    try:
        async with AsyncTestClient(app=create_app(runtime)) as client:
            yield World(runtime, client, arbox, org.id, bearer(owner.id), bearer(coach.id))
    finally:
        await runtime.aclose()


def email_of(row: dict[str, Any]) -> str:
    """A sandbox row's email as fitdata stores it."""
    return str(row["email"]).strip().lower()
