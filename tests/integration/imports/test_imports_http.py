"""The import engine over HTTP on Postgres, with the in-memory member source.

The app is the real composition root (SQL units of work on a Postgres database of its own);
the worker side is played by :func:`support.imports.drain`, which delivers the outbox's
messages to the engine as a worker would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fitdata_adapters.bootstrap import Runtime, bootstrap, import_policy
from fitdata_adapters.db import tables as t
from fitdata_adapters.memory import MemoryJobQueue
from fitdata_adapters.memory.member_source import MemoryMemberSource
from fitdata_adapters.settings import Settings
from fitdata_adapters.tokens import issue_token
from fitdata_core.model.organizations import Role
from fitdata_core.usecases.organizations import NewMember, add_member, create_organization
from fitdata_http import create_app
from support.concurrency import Rendezvous, concurrent_client, pausing_app
from support.fakes import NoPayments
from support.imports import PLANS, drain, members

pytestmark = pytest.mark.integration

Client = AsyncTestClient[Litestar]
JWT_SECRET = "integration-imports-jwt-secret-long-enough-for-hs256"
KEY = {"arboxApiKey": "arbox-inline-secret-key"}


@attrs.define
class World:
    runtime: Runtime
    client: Client
    source: MemoryMemberSource
    org_id: str
    owner: dict[str, str]
    coach: dict[str, str]

    @property
    def base(self) -> str:
        return f"/organizations/{self.org_id}/import"

    async def start(self, **body: Any) -> Any:
        payload = {"source": "arbox", "entities": {"members": True, "plans": True}, **KEY, **body}
        return await self.client.post(self.base, json=payload, headers=self.owner)

    async def run(self, **body: Any) -> dict[str, Any]:
        response = await self.start(**body)
        assert response.status_code == 202, response.text
        await drain(self.runtime.services)
        return await self.job(response.json()["data"]["jobId"])

    async def job(self, job_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{self.base}/jobs/{job_id}", headers=self.owner)
        assert response.status_code == 200, response.text
        return dict(response.json()["data"])

    async def count(self, table: sa.Table) -> int:
        async with self.runtime.engine.connect() as conn:
            return int(
                (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()
            )


def _bearer(user_id: str) -> dict[str, str]:
    jwt = issue_token(JWT_SECRET, user_id, now=datetime.now(UTC), ttl=timedelta(minutes=30))
    return {"Authorization": f"Bearer {jwt}"}


def _settings(data_dir: Path, database_url: str, redis_url: str | None = None) -> Settings:
    env = {
        "FITDATA_MODE": "embedded",
        "FITDATA_DATA_DIR": str(data_dir),
        "FITDATA_DATABASE_URL": database_url,
        "FITDATA_JWT_SECRET": JWT_SECRET,
    }
    if redis_url:
        env["FITDATA_REDIS_URL"] = redis_url
    return Settings.from_env(env)


async def _world(settings: Settings) -> AsyncIterator[World]:
    source = MemoryMemberSource(plans=PLANS, page_size=500)
    policy = attrs.evolve(import_policy(settings), retry_delays=(0, 0))
    runtime = bootstrap(
        settings,
        payment_gateway=NoPayments(),
        queue=MemoryJobQueue(),
        member_source=source,
        imports=policy,
    )
    svc = runtime.services
    org = await create_organization(svc, name="Arbox Migrants", owner_email="owner@migrants.io")
    coach = await add_member(
        svc, org_id=org.id, member=NewMember(email="coach@migrants.io", role=Role.COACH)
    )
    async with svc.uow() as uow:
        owner = await uow.users.get_by_email("owner@migrants.io")
    assert owner is not None
    try:
        async with AsyncTestClient(app=create_app(runtime)) as client:
            yield World(runtime, client, source, org.id, _bearer(owner.id), _bearer(coach.id))
    finally:
        await runtime.aclose()


@pytest.fixture
async def world(tmp_path: Path, clean_pg_url: str) -> AsyncIterator[World]:
    async for w in _world(_settings(tmp_path, clean_pg_url)):
        yield w


async def test_1500_members_with_one_malformed_email_land_1499_and_report_it(world: World) -> None:
    rows = members(1500)
    rows[42] = attrs.evolve(rows[42], email="bad@@email")
    world.source.members = rows
    job = await world.run()
    assert job["status"] == "completed"
    assert job["results"]["members"] == {
        "created": 1499,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
    }
    assert job["progress"]["members"] == {"processed": 1500, "total": 1500}
    assert job["errorCount"] == 1
    assert job["errors"][0] | {"reason": "-"} == {
        "entity": "members",
        "severity": "error",
        "sourceId": "1042",
        "email": "bad@@email",
        "field": "email",
        "reason": "-",
    }
    listed = await world.client.get(
        f"/organizations/{world.org_id}/members?limit=1&status=active", headers=world.owner
    )
    assert listed.json()["meta"]["total"] == 1499 + 2  # and the owner and the coach
    assert await world.count(t.import_staging) == 0  # staging is cleared at the end
    assert "arbox-inline-secret-key" not in str(job)


async def _row_versions(world: World) -> list[object]:
    """The newest row version (xmin) of each table an import writes: a rewrite of any row,
    even with equal values, gives it a new one."""
    async with world.runtime.engine.connect() as conn:
        return [
            (
                await conn.execute(
                    sa.select(sa.func.max(sa.text("xmin::text::bigint"))).select_from(table)
                )
            ).scalar_one()
            for table in (t.users, t.memberships, t.member_profiles, t.plans)
        ]


async def test_rerun_is_all_unchanged_and_writes_nothing(world: World) -> None:
    world.source.members = members(1200)
    await world.run()
    before = await _row_versions(world)
    again = await world.run()
    assert again["results"]["members"]["unchanged"] == 1200
    assert again["results"]["plans"]["unchanged"] == 1
    assert again["results"]["enrichment"]["updated"] == 0
    assert await _row_versions(world) == before


async def test_case_insensitive_match_plan_by_name_and_whitelist(world: World) -> None:
    rows = members(3)
    world.source.members = rows
    await world.run()
    world.source.members = [
        attrs.evolve(rows[0], email="M0@Gym.EXAMPLE", last_name="New"),
        *rows[1:],
    ]
    world.source.plans = [attrs.evolve(PLANS[0], session_count=8)]
    job = await world.run(emailWhitelist=["m0@gym.example", "M1@GYM.example"])
    assert job["results"]["members"] == {
        "created": 0,
        "updated": 1,
        "unchanged": 1,
        "skipped": 1,
        "failed": 0,
    }
    assert job["results"]["plans"]["updated"] == 1
    assert await world.count(t.plans) == 1
    assert await world.count(t.users) == 2 + 3


async def test_cancel_pending_then_dry_run_then_undo(world: World) -> None:
    world.source.members = members(5)
    pending = await world.start()
    job_id = pending.json()["data"]["jobId"]
    cancelled = await world.client.delete(f"{world.base}/jobs/{job_id}", headers=world.owner)
    assert cancelled.status_code == 200
    assert cancelled.json()["data"]["status"] == "cancelled"
    await drain(world.runtime.services)
    assert await world.count(t.memberships) == 2

    # A dry run does not enrich (the profiles it would fill are not written), so compare
    # with a real run without enrichment.
    dry = await world.run(dryRun=True, enrich=False)
    assert dry["dryRun"] is True
    assert dry["results"]["members"]["created"] == 5
    assert await world.count(t.memberships) == 2
    assert await world.count(t.plans) == 0

    real = await world.run(enrich=False)
    assert real["results"] == dry["results"]
    assert await world.count(t.memberships) == 2 + 5
    async with world.runtime.engine.begin() as conn:  # someone edits m4 after the import
        await conn.execute(
            t.users.update().where(t.users.c.email == "m4@gym.example").values(first_name="Hand")
        )
    undone = await world.client.post(f"{world.base}/jobs/{real['id']}/undo", headers=world.owner)
    assert undone.status_code == 200, undone.text
    conflicts = undone.json()["data"]["conflicts"]
    assert [(c["entity"], c["reason"]) for c in conflicts] == [
        ("user", "changed since the import; left as is")
    ]
    assert await world.count(t.memberships) == 2  # the created memberships are gone
    assert await world.count(t.plans) == 0
    assert await world.count(t.users) == 2 + 1  # m4's user stays: changed since
    assert (await world.job(real["id"]))["status"] == "undone"
    again = await world.client.post(f"{world.base}/jobs/{real['id']}/undo", headers=world.owner)
    assert again.status_code == 409


STARTERS = 10


async def test_concurrent_starts_exactly_one_wins(world: World) -> None:
    """Ten starts at once, each held right after it looked for the org's active import until
    the others looked too: all of them find none, so only the one-active-import-per-org index
    lets exactly one in (without it, all ten are 202)."""
    world.source.members = members(3)
    rendezvous = Rendezvous(parties=STARTERS)
    app = pausing_app(world.runtime, rendezvous, repository="import_jobs", methods=["find_active"])
    payload = {"source": "arbox", "entities": {"members": True, "plans": True}, **KEY}
    async with concurrent_client(app) as client:
        responses = await asyncio.gather(
            *(client.post(world.base, json=payload, headers=world.owner) for _ in range(STARTERS))
        )
    # Every start looked before any inserted.
    assert (rendezvous.arrived, rendezvous.timed_out) == (STARTERS, False)
    codes = sorted(r.status_code for r in responses)
    assert codes == [202] + [409] * (STARTERS - 1), [r.text for r in responses]
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["detail"] == "Active import already exists"
    assert await world.count(t.import_jobs) == 1
    assert await drain(world.runtime.services) == 1  # one run queued, not ten


async def test_access_rules_empty_source_401_and_lists(world: World) -> None:
    coach_try = await world.client.post(
        world.base,
        json={"source": "arbox", "entities": {"members": True}, **KEY},
        headers=world.coach,
    )
    assert coach_try.status_code == 403
    assert "Only owners and admins can import data." in coach_try.text
    no_credentials = await world.client.post(
        world.base, json={"source": "arbox", "entities": {"members": True}}, headers=world.owner
    )
    assert no_credentials.status_code == 400
    assert "No Arbox credentials" in no_credentials.text
    bad_body = await world.client.post(world.base, json={"source": "excel"}, headers=world.owner)
    assert bad_body.status_code == 400

    world.source.plans = []
    empty = await world.run(entities={"members": True, "plans": True, "leads": True})
    assert empty["status"] == "completed"
    assert all(sum(r.values()) == 0 for r in empty["results"].values())

    world.source.members = members(2)
    world.source.refuse_credentials = True
    failed = await world.run()
    assert failed["status"] == "failed"
    assert "401" in failed["errorMessage"]
    assert "re-enter" in failed["errorMessage"]

    listed = await world.client.get(f"{world.base}/jobs?limit=1", headers=world.owner)
    assert listed.json()["meta"]["total"] == 2
    assert listed.json()["data"][0]["id"] == failed["id"]
    # The same owner's other gym: its URL with this gym's job id is a 404.
    other_org = await create_organization(
        world.runtime.services, name="Second Gym", owner_email="owner@migrants.io"
    )
    for method in ("get", "delete"):
        other = await getattr(world.client, method)(
            f"/organizations/{other_org.id}/import/jobs/{failed['id']}", headers=world.owner
        )
        assert other.status_code == 404
    undo_other = await world.client.post(
        f"/organizations/{other_org.id}/import/jobs/{failed['id']}/undo", headers=world.owner
    )
    assert undo_other.status_code == 404
    unknown = await world.client.get(f"{world.base}/jobs/{uuid.uuid4()}", headers=world.owner)
    assert unknown.status_code == 404


async def test_leads_are_listed_for_staff(world: World) -> None:
    from fitdata_core.ports.providers import SourceLead

    world.source.leads = [
        SourceLead(external_id="l1", email="Lead@Example.com", first_name="Lea"),
        SourceLead(external_id="l2", phone="052-7654321"),
        SourceLead(external_id="l3"),
    ]
    job = await world.run(entities={"leads": True})
    assert job["results"]["leads"] == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
    }
    leads = await world.client.get(f"/organizations/{world.org_id}/leads", headers=world.coach)
    assert leads.status_code == 200
    assert sorted((x["email"] or x["phone"]) for x in leads.json()["data"]) == [
        "+972527654321",
        "lead@example.com",
    ]


async def test_redis_down_gives_503_with_retry_after(tmp_path: Path, clean_pg_url: str) -> None:
    # Nothing listens on this port: the shared rate limiter cannot reach Redis.
    async for down in _world(_settings(tmp_path, clean_pg_url, "redis://127.0.0.1:1/0")):
        response = await down.start()
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) >= 1


async def test_cancel_while_running_stops_before_the_next_batch_and_keeps_what_landed(
    world: World,
) -> None:
    world.source.members = members(1000)
    world.source.page_size = 100
    response = await world.start(enrich=False)
    job_id = response.json()["data"]["jobId"]

    async def cancel_on_the_fifth_page(number: int) -> None:
        if number == 4:
            cancelled = await world.client.delete(
                f"{world.base}/jobs/{job_id}", headers=world.owner
            )
            assert cancelled.status_code == 200
            assert cancelled.json()["data"]["cancelRequested"] is True

    world.source.on_page = cancel_on_the_fifth_page
    await drain(world.runtime.services)
    job = await world.job(job_id)
    assert job["status"] == "cancelled"
    # Staging stopped at the cancel, so no member was applied; the plans phase had landed.
    assert job["results"]["plans"]["created"] == 1
    assert job["progress"]["members"]["processed"] < 1000
    assert await world.count(t.plans) == 1
    assert await world.count(t.import_staging) == 0
