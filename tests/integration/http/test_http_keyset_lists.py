"""Keyset paging over HTTP, on Postgres and SQLite through the real composition root, of the
lists that were paged by offset only: the payment history and import jobs (newest first),
the billing timeline and leads (oldest first).

Walking ``meta.nextCursor`` from the first page visits every row once and in order, also
when rows are written between two pages; the total is counted on the first page only; the
offset form keeps working; a cursor that is not one we issued is a 400 naming ``cursor``.
"""

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
from fitdata_core.model.jobs import ImportPhase, ImportStatus
from fitdata_core.paging import encode_cursor, encode_position_cursor, encode_time_cursor
from fitdata_core.usecases.organizations import create_organization
from support import builders
from support.fakes import NoPayments

pytestmark = pytest.mark.integration

Client = AsyncTestClient[Litestar]
JWT_SECRET = "integration-http-jwt-secret-long-enough-for-hs256"
T0 = datetime(2026, 5, 1, 9, tzinfo=UTC)
DONE = {"status": ImportStatus.COMPLETED, "phase": ImportPhase.DONE}


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


async def _gym(runtime: Runtime, name: str) -> tuple[str, dict[str, str]]:
    """A new org and its owner's Authorization header."""
    org_id, _, headers = await _gym_with_owner(runtime, name)
    return org_id, headers


async def _gym_with_owner(runtime: Runtime, name: str) -> tuple[str, str, dict[str, str]]:
    org = await create_organization(runtime.services, name=name, owner_email=f"owner@{name}.io")
    async with runtime.services.uow() as uow:
        owner = await uow.users.get_by_email(f"owner@{name}.io")
    assert owner is not None
    jwt = issue_token(JWT_SECRET, owner.id, now=datetime.now(UTC), ttl=timedelta(minutes=5))
    return org.id, owner.id, {"Authorization": f"Bearer {jwt}"}


async def _walk(
    client: Client, url: str, headers: dict[str, str], limit: int
) -> tuple[list[str], list[dict[str, Any]]]:
    """The ids of every item from the first page on by ``meta.nextCursor``, and each meta."""
    ids: list[str] = []
    metas: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        page = await _page(client, url, headers, **params)
        ids += [item["id"] for item in page["data"]]
        metas.append(page["meta"])
        if page["meta"]["nextCursor"] is None:
            return ids, metas
        params = {"limit": limit, "cursor": page["meta"]["nextCursor"]}


async def _add_transactions(runtime: Runtime, org_id: str, minutes: list[float]) -> list[str]:
    ids = []
    async with runtime.services.uow() as uow:
        for minute in minutes:
            txn = builders.transaction(org_id, created_at=T0 + timedelta(minutes=minute))
            await uow.billing_transactions.add(txn)
            ids.append(txn.id)
        await uow.commit()
    return ids


async def _add_events(runtime: Runtime, org_id: str, names: list[str]) -> None:
    async with runtime.services.uow() as uow:
        await uow.billing_events.add_many(org_id, [builders.event(org_id, name) for name in names])
        await uow.commit()


async def _page(client: Client, url: str, headers: dict[str, str], **params: Any) -> Any:
    response = await client.get(url, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_transactions_walk_newest_first_by_cursor_while_payments_arrive(
    client: Client, runtime: Runtime
) -> None:
    org_id, owner = await _gym(runtime, "haifa")
    other_id, _ = await _gym(runtime, "eilat")
    # Two share a created_at: the id breaks the tie, so neither is lost at a page edge.
    minutes = [0, 1, 2, 3, 4, 4, 5, 6, 7, 8]
    ids = dict(zip(await _add_transactions(runtime, org_id, minutes), minutes, strict=True))
    await _add_transactions(runtime, other_id, [2.5, 6.5])
    url = f"/organizations/{org_id}/billing/transactions"

    first = await _page(client, url, owner, limit=3)
    seen = [t["id"] for t in first["data"]]
    # Written after the first page: a newer one (the walk has passed the front, so it is not
    # shown) and an older one (ahead of the walk: shown once, in its place).
    newer, older = await _add_transactions(runtime, org_id, [30, 3.5])
    ids[older] = 3.5
    metas = [first["meta"]]
    cursor = first["meta"]["nextCursor"]
    while cursor is not None:
        page = await _page(client, url, owner, limit=3, cursor=cursor)
        seen += [t["id"] for t in page["data"]]
        metas.append(page["meta"])
        cursor = page["meta"]["nextCursor"]

    expected = sorted(ids, key=lambda i: (ids[i], i), reverse=True)
    assert seen == expected
    assert newer not in seen
    assert first["meta"]["total"] == 10
    assert [(m["total"], m["offset"]) for m in metas[1:]] == [(None, None)] * (len(metas) - 1)
    assert [len(p) for p in (seen[:3], seen[3:6], seen[6:9], seen[9:])] == [3, 3, 3, 2]
    assert len(metas) == 4


async def test_transactions_by_offset_still_count_and_lead_on_by_cursor(
    client: Client, runtime: Runtime
) -> None:
    org_id, owner = await _gym(runtime, "akko")
    ids = await _add_transactions(runtime, org_id, [0, 1, 2, 3, 4])
    url = f"/organizations/{org_id}/billing/transactions"

    by_offset = await _page(client, url, owner, limit=2, offset=1)
    rest = await _page(client, url, owner, limit=10, cursor=by_offset["meta"]["nextCursor"])

    assert [t["id"] for t in by_offset["data"]] == [ids[3], ids[2]]
    assert (by_offset["meta"]["total"], by_offset["meta"]["offset"]) == (5, 1)
    assert [t["id"] for t in rest["data"]] == [ids[1], ids[0]]
    assert rest["meta"] == {"total": None, "limit": 10, "offset": None, "nextCursor": None}


async def test_the_timeline_walks_oldest_first_by_cursor_while_events_are_recorded(
    client: Client, runtime: Runtime
) -> None:
    org_id, owner = await _gym(runtime, "jaffa")
    other_id, _ = await _gym(runtime, "tiberias")
    await _add_events(runtime, org_id, [f"e{n}" for n in range(5)])
    await _add_events(runtime, other_id, ["elsewhere"])
    await _add_events(runtime, org_id, [f"e{n}" for n in range(5, 8)])
    url = f"/organizations/{org_id}/billing/events"

    first = await _page(client, url, owner, limit=3)
    seen = [e["name"] for e in first["data"]]
    cursor = first["meta"]["nextCursor"]
    recorded = 8
    while cursor is not None:
        # Events recorded between pages come after everything already there: each once.
        await _add_events(runtime, org_id, [f"e{recorded}"])
        await _add_events(runtime, other_id, ["elsewhere"])
        recorded += 1
        page = await _page(client, url, owner, limit=3, cursor=cursor)
        assert (page["meta"]["total"], page["meta"]["offset"]) == (None, None)
        seen += [e["name"] for e in page["data"]]
        cursor = page["meta"]["nextCursor"]
        assert recorded < 30, "the walk never ended"

    assert first["meta"]["total"] == 8
    assert seen == [f"e{n}" for n in range(recorded)]
    by_offset = await _page(client, url, owner, limit=2, offset=3)
    assert [e["name"] for e in by_offset["data"]] == ["e3", "e4"]
    assert by_offset["meta"]["total"] == recorded


async def test_import_jobs_walk_newest_first_and_leads_oldest_first_by_cursor(
    client: Client, runtime: Runtime
) -> None:
    org_id, owner_id, owner = await _gym_with_owner(runtime, "ashdod")
    other_id, other_owner_id, _ = await _gym_with_owner(runtime, "dimona")
    # Ties on created_at on both lists: the id breaks them, so none is lost at a page edge.
    minutes = [0, 1, 1, 2, 3, 3, 4]
    async with runtime.services.uow() as uow:
        # Finished ones: an org has at most one active import.
        jobs = [
            builders.import_job(org_id, owner_id, created_at=T0 + timedelta(minutes=m), **DONE)
            for m in minutes
        ]
        leads = [builders.lead(org_id, created_at=T0 + timedelta(minutes=m)) for m in minutes]
        for job in jobs:
            await uow.import_jobs.add(job)
        for lead in leads:
            await uow.leads.add(lead)
        await uow.import_jobs.add(builders.import_job(other_id, other_owner_id, created_at=T0))
        await uow.leads.add(builders.lead(other_id, created_at=T0))
        await uow.commit()

    job_ids, job_metas = await _walk(client, f"/organizations/{org_id}/import/jobs", owner, 2)
    lead_ids, lead_metas = await _walk(client, f"/organizations/{org_id}/leads", owner, 3)

    assert job_ids == [j.id for j in sorted(jobs, key=lambda j: (j.created_at, j.id))][::-1]
    assert lead_ids == [x.id for x in sorted(leads, key=lambda x: (x.created_at, x.id))]
    assert [m["total"] for m in job_metas] == [7, None, None, None]
    assert [m["total"] for m in lead_metas] == [7, None, None]
    by_offset = await _page(client, f"/organizations/{org_id}/leads", owner, limit=2, offset=5)
    assert [x["id"] for x in by_offset["data"]] == lead_ids[5:]
    assert by_offset["meta"] == {"total": 7, "limit": 2, "offset": 5, "nextCursor": None}


@pytest.mark.parametrize(
    ("route", "cursor", "extra"),
    [
        ("billing/transactions", "%%%", {}),
        ("billing/transactions", encode_cursor("yesterday", "x"), {}),
        ("billing/transactions", encode_cursor("2026-05-01T09:00:00", "x"), {}),  # no time zone
        ("billing/transactions", encode_position_cursor(3), {}),  # the timeline's kind of cursor
        ("billing/transactions", encode_time_cursor(T0, "x"), {"offset": 2}),
        ("billing/events", "x" * 1025, {}),
        ("billing/events", encode_time_cursor(T0, "x"), {}),  # the history's kind of cursor
        ("billing/events", encode_cursor("-1"), {}),
        ("billing/events", encode_cursor("9" * 40), {}),  # beyond any 64-bit id
        ("billing/events", encode_cursor("\u0663"), {}),  # a digit, but not an ASCII one
        ("import/jobs", encode_cursor("yesterday", "x"), {}),
        ("leads", encode_position_cursor(3), {}),
    ],
)
async def test_a_cursor_we_did_not_issue_is_a_400_naming_it(
    client: Client, runtime: Runtime, route: str, cursor: str, extra: dict[str, Any]
) -> None:
    org_id, owner = await _gym(runtime, "nazareth")
    response = await client.get(
        f"/organizations/{org_id}/{route}",
        params={"cursor": cursor, **extra},
        headers=owner,
    )

    assert response.status_code == 400
    problem = response.json()
    assert problem["field"] == "cursor"
    if not extra and len(cursor) <= 1024:
        assert "pass meta.nextCursor of the previous page unchanged" in problem["detail"]
