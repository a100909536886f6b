"""The Arbox QA rows: over HTTP, on Postgres, against the project's Arbox sandbox over real
sockets.

The sandbox and the world are the folder's fixtures (``conftest.py``, ``support.arbox_world``):
the ``ArboxSource`` under test is the one the composition root builds; imports start through
the API and the queued jobs run as a worker would.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from fitdata_adapters.arbox_sandbox import (
    FIRST_MEMBER_ID,
    PLANS,
    UNKNOWN_PLAN_NAME,
    SandboxThread,
    expected_counts,
    generate_dataset,
)
from fitdata_adapters.db import tables as t
from fitdata_adapters.db.engine import create_engine
from fitdata_core.model.organizations import Role
from fitdata_core.usecases.imports import run_import
from fitdata_core.usecases.organizations import NewMember, add_member
from support.arbox_world import API_KEY, LOGIN, SANDBOX, STAFF, World, arbox_world
from support.arbox_world import email_of as _email
from support.import_races import SIGNED_UP_ID, RacingFactory, SignUpFirst
from support.imports import drain

pytestmark = pytest.mark.integration


async def test_business_api_creates_plans_first_then_members(world: World) -> None:
    """QA: Arbox (Business API), API key only: plans are created first, members second."""
    data = world.arbox.sandbox.generate(60)
    job = await world.run(**API_KEY)
    assert job["status"] == "completed", job
    assert job["results"]["plans"]["created"] == len(PLANS)
    active = len(data.users)  # the Business API lists active members only
    members = job["results"]["members"]
    assert members["created"] + members["failed"] == active
    assert members["failed"] == 1  # the one malformed email
    endpoints = [c.endpoint for c in world.arbox.sandbox.calls if c.status == 200]
    assert endpoints.index("membershipTypes") < endpoints.index("users")
    assert not {"login", "activeMembersReport"} & set(endpoints)
    listed = await world.members()
    assert len(listed) == active - 1 + STAFF
    assert await world.count(t.plans) == len(PLANS)
    async with world.runtime.engine.connect() as conn:
        query = sa.select(sa.func.count()).where(t.memberships.c.plan_id.is_not(None))
        planned = (await conn.execute(query)).scalar_one()
    assert planned == active - 1  # every imported member is linked to its plan by name


async def test_management_api_merges_reports_active_wins_inactive_kept(world: World) -> None:
    """QA: Arbox (Management API), email + password: a member in both reports is active, one
    only in the inactive report gets the ``inactive`` status."""
    data = world.arbox.sandbox.generate(60)
    counts = expected_counts(60)
    job = await world.run(**LOGIN, entities={"members": True})
    assert job["status"] == "completed", job
    members = job["results"]["members"]
    assert members["created"] == 60 - 1
    assert members["failed"] == 1
    endpoints = {c.endpoint for c in world.arbox.sandbox.calls}
    assert {"login", "activeMembersReport", "inactiveMembersReport"} <= endpoints
    listed = await world.members()
    in_both = FIRST_MEMBER_ID + 25  # generated index 25 is in both reports
    both_email = next(_email(r) for r in data.active_report if r["user_fk"] == in_both)
    assert listed[both_email]["status"] == "active"
    inactive_emails = {_email(r) for r in data.inactive_report} - {
        _email(r) for r in data.active_report
    }
    assert len(inactive_emails) == counts["inactive_only"]
    assert {listed[e]["status"] for e in inactive_emails} == {"inactive"}
    active = [m for m in listed.values() if m["role"] == "member" and m["status"] == "active"]
    assert len(active) == counts["active_only"] + counts["in_both_reports"] - 1  # malformed


async def test_bad_password_fails_the_job_citing_401(world: World) -> None:
    """QA: Arbox login fails (bad password): the job fails citing 401 and nothing lands."""
    world.arbox.sandbox.generate(10)
    job = await world.run(arboxEmail=SANDBOX.email, arboxPassword="wrong-password")
    assert job["status"] == "failed"
    assert "401" in job["errorMessage"]
    assert "re-enter" in job["errorMessage"]
    assert "wrong-password" not in str(job)
    assert await world.count(t.memberships) == STAFF


async def test_1500_members_with_one_malformed_email_land_1499(world: World) -> None:
    """QA: 1,500 members, one with a malformed email: 1,499 land, the one is in ``errors``."""
    data = world.arbox.sandbox.generate(1500)
    job = await world.run(**API_KEY, **LOGIN, entities={"plans": True, "members": True})
    assert job["status"] == "completed", job
    assert job["results"]["members"] == {
        "created": 1499,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
    }
    malformed = str(expected_counts(1500)["malformed_email_member"])
    errors = [e for e in job["errors"] if e["severity"] == "error"]
    assert [(e["sourceId"], e["field"]) for e in errors] == [(malformed, "email")]
    assert "@@" in errors[0]["email"]
    listed = await world.client.get(
        f"/organizations/{world.org_id}/members?limit=1", headers=world.owner
    )
    assert listed.json()["meta"]["total"] == 1499 + STAFF
    assert len(data.details) == 1500


async def test_whitelist_of_two_emails_only_those_get_memberships(world: World) -> None:
    """QA: a whitelist of two emails: only those two get memberships, the others are skipped."""
    data = world.arbox.sandbox.generate(40)
    chosen = [_email(data.active_report[0]), _email(data.active_report[3])]
    job = await world.run(
        **LOGIN, entities={"members": True}, emailWhitelist=[chosen[0].upper(), chosen[1]]
    )
    assert job["status"] == "completed", job
    members = job["results"]["members"]
    assert members["created"] == 2
    assert members["skipped"] + members["failed"] == 40 - 2
    listed = await world.members()
    assert sorted(e for e, m in listed.items() if m["role"] == "member") == sorted(chosen)


async def test_same_import_twice_creates_no_duplicates_and_is_all_unchanged(world: World) -> None:
    """QA: idempotency: the same import run twice duplicates no user and reports everything
    ``unchanged`` the second time."""
    world.arbox.sandbox.generate(80)
    first = await world.run(**API_KEY, **LOGIN)
    users, memberships, leads = (
        await world.count(t.users),
        await world.count(t.memberships),
        await world.count(t.leads),
    )
    second = await world.run(**API_KEY, **LOGIN)
    assert second["status"] == "completed", second
    for entity in ("plans", "members", "leads"):
        result = second["results"][entity]
        assert result["created"] == result["updated"] == 0, (entity, result)
        assert result["unchanged"] == first["results"][entity]["created"], entity
    assert (
        await world.count(t.users),
        await world.count(t.memberships),
        await world.count(t.leads),
    ) == (users, memberships, leads)


async def test_enrichment_fills_profile_fields_shown_in_the_member_list(world: World) -> None:
    """QA: enrichment fills the profile fields the reports lack (address, city, zip code,
    emergency contact) from ``users/{id}``, and the member list shows them."""
    data = world.arbox.sandbox.generate(20)
    job = await world.run(**API_KEY, **LOGIN, entities={"members": True}, enrich=True)
    assert job["status"] == "completed", job
    assert job["results"]["enrichment"]["updated"] >= 19 - 1
    details = [c for c in world.arbox.sandbox.calls if c.endpoint == "users/{id}"]
    assert len(details) >= 19
    listed = await world.members()
    for index in (0, 5, 12):
        detail = data.details[str(FIRST_MEMBER_ID + index)]
        profile = listed[_email(detail)]["profile"]
        assert profile is not None
        assert profile["address"] == detail["address"]
        assert profile["city"] == detail["city"]
        assert profile["zipCode"] == detail["zip_code"]
        assert profile["emergencyContactName"] == detail["emergency_contact_name"]


async def test_empty_arbox_completes_with_zeros(world: World) -> None:
    """QA: an empty Arbox account: the job completes at once with zeros."""
    world.arbox.sandbox.set_data(plans=[])  # the reset sandbox serves no members
    job = await world.run(**API_KEY, **LOGIN)
    assert job["status"] == "completed", job
    assert all(sum(result.values()) == 0 for result in job["results"].values()), job
    assert await world.count(t.memberships) == STAFF


async def test_a_429_then_success_is_retried(world: World) -> None:
    """QA: Arbox answers 429 (with Retry-After) and then succeeds: the call is retried and
    the import completes."""
    world.arbox.sandbox.generate(30)
    world.arbox.sandbox.fail_next(429, endpoint="users", retry_after=0)
    job = await world.run(**API_KEY, entities={"members": True})
    assert job["status"] == "completed", job
    users_calls = [c for c in world.arbox.sandbox.calls if c.endpoint == "users"]
    assert users_calls[0].status == 429
    assert users_calls[0].injected
    assert users_calls[1].status == 200
    results = job["results"]["members"]
    assert results["created"] + results["failed"] == len(generate_dataset(30).users)


async def test_leads_land_in_the_leads_list(world: World) -> None:
    """QA: Arbox leads land in ``GET /leads`` (staff may list them)."""
    data = world.arbox.sandbox.generate(100)
    job = await world.run(**API_KEY, entities={"leads": True})
    assert job["status"] == "completed", job
    assert job["results"]["leads"]["created"] == len(data.leads) == 5
    response = await world.client.get(
        f"/organizations/{world.org_id}/leads?limit=100", headers=world.coach
    )
    assert response.status_code == 200, response.text
    listed = response.json()["data"]
    assert len(listed) == 5
    with_email = sorted(_email(x) for x in data.leads if x["email"])
    assert sorted(x["email"] for x in listed if x["email"]) == with_email


async def test_unknown_membership_type_gives_a_membership_without_plan_and_a_warning(
    world: World,
) -> None:
    """QA: a member whose ``membership_type_name`` matches no plan gets a membership without
    a plan and a warning naming the plan name."""
    data = world.arbox.sandbox.generate(120)
    unknown = [r for r in data.users if r["membership_type_name"] == UNKNOWN_PLAN_NAME]
    assert unknown  # the generator gives index 13 (and every 97th after) an unknown plan
    job = await world.run(**API_KEY, entities={"plans": True, "members": True})
    assert job["status"] == "completed", job
    warnings = [e for e in job["errors"] if e["field"] == "plan_name"]
    assert {w["sourceId"] for w in warnings} == {str(r["user_id"]) for r in unknown}
    assert all(UNKNOWN_PLAN_NAME in w["reason"] for w in warnings)
    assert all(w["severity"] == "warning" for w in warnings)
    async with world.runtime.engine.connect() as conn:
        plan_ids = (
            await conn.execute(
                sa.select(t.memberships.c.plan_id)
                .join(t.users, t.users.c.id == t.memberships.c.user_id)
                .where(t.users.c.email.in_([_email(r) for r in unknown]))
            )
        ).all()
    assert [row.plan_id for row in plan_ids] == [None] * len(unknown)


async def test_business_api_job_lands_in_progress_and_a_second_trigger_gets_409(
    one_step_world: World,
) -> None:
    """QA: Arbox (Business API), API key only: the job lands ``in_progress``; a trigger while
    it runs gets 409 "Active import already exists"; once it ended another one may start."""
    world = one_step_world
    world.arbox.sandbox.generate(30)
    job_id = await world.start(**API_KEY, entities={"plans": True, "members": True})
    await run_import(world.runtime.services, job_id)  # one message, one step: the plans
    running = await world.job(job_id)
    again = await world.client.post(
        world.base,
        json={"source": "arbox", "entities": {"members": True}, **API_KEY},
        headers=world.owner,
    )
    await drain(world.runtime.services)
    done = await world.job(job_id)
    after = await world.client.post(
        world.base,
        json={"source": "arbox", "entities": {"members": True}, **API_KEY},
        headers=world.owner,
    )

    # Plans first: they have landed, no member has yet.
    assert (running["status"], running["phase"]) == ("in_progress", "members")
    assert running["results"]["plans"]["created"] == len(PLANS)
    assert running["results"].get("members", {}).get("created", 0) == 0
    assert again.status_code == 409, again.text
    assert again.json()["detail"] == "Active import already exists"
    assert done["status"] == "completed", done
    assert after.status_code == 202, after.text


async def test_management_api_fetches_both_reports_in_parallel(world: World) -> None:
    """QA: Arbox (Management API): after the login, the active and inactive reports are
    fetched in parallel: with 2 s of latency per request, the second report request arrives
    while the first is still waiting for its answer (serial requests would arrive at least
    2 s apart). Judged from the sandbox's arrival times, not the wall clock of a loaded
    machine."""
    world.arbox.sandbox.generate(20)
    world.arbox.sandbox.set_latency(2000)
    job = await world.run(**LOGIN, entities={"members": True})
    assert job["status"] == "completed", job
    calls = [c for c in world.arbox.sandbox.calls if c.endpoint.endswith("Report")]
    assert sorted(c.endpoint for c in calls) == ["activeMembersReport", "inactiveMembersReport"]
    reports = {c.endpoint: c for c in calls}
    gap = abs(
        reports["activeMembersReport"].received_at - reports["inactiveMembersReport"].received_at
    )
    assert gap < 2.0, gap


async def test_a_member_whose_email_differs_in_case_is_the_same_row(world: World) -> None:
    """QA: idempotency: a member stored as ``dana@…`` and sent by Arbox as ``DANA@…`` is the
    same row: updated, not duplicated."""
    svc = world.runtime.services
    await add_member(
        svc,
        org_id=world.org_id,
        member=NewMember(email="dana.levi@case-gym.io", role=Role.MEMBER, first_name="D"),
    )
    users = await world.count(t.users)
    world.arbox.sandbox.set_data(
        active_report=[
            {"user_fk": 77, "email": "DANA.Levi@Case-Gym.IO", "first_name": "Dana"},
        ],
        inactive_report=[],
    )
    job = await world.run(**LOGIN, entities={"members": True})
    assert job["status"] == "completed", job
    assert job["results"]["members"]["created"] == 0
    assert job["results"]["members"]["updated"] == 1
    assert await world.count(t.users) == users
    listed = await world.members()
    assert listed["dana.levi@case-gym.io"]["firstName"] == "Dana"
    assert "DANA.Levi@Case-Gym.IO" not in listed


async def test_a_plan_with_the_same_name_is_updated_not_duplicated(world: World) -> None:
    """QA: idempotency: a plan that exists by name is updated (its new price), not added."""
    world.arbox.sandbox.generate(10)
    first = await world.run(**API_KEY, entities={"plans": True})
    assert first["results"]["plans"]["created"] == len(PLANS)
    changed = [dict(PLANS[0], price="999.00"), *PLANS[1:]]
    world.arbox.sandbox.set_data(plans=changed)
    second = await world.run(**API_KEY, entities={"plans": True})
    assert second["status"] == "completed", second
    assert second["results"]["plans"]["updated"] == 1
    assert second["results"]["plans"]["unchanged"] == len(PLANS) - 1
    assert second["results"]["plans"]["created"] == 0
    assert await world.count(t.plans) == len(PLANS)
    async with world.runtime.engine.connect() as conn:
        price = (
            await conn.execute(
                sa.select(t.plans.c.price_amount).where(
                    t.plans.c.name == PLANS[0]["membership_type_name"]
                )
            )
        ).scalar_one()
    assert price == Decimal("999.00")


async def test_every_phase_transition_is_logged_with_the_job_and_org(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """QA: observability: every phase transition (and every batch) is logged naming the job
    and the organization."""
    world.arbox.sandbox.generate(20)
    with caplog.at_level("INFO", logger="fitdata.imports"):
        job = await world.run(**API_KEY, **LOGIN, enrich=True)
    assert job["status"] == "completed", job
    records = [r for r in caplog.records if r.name == "fitdata.imports"]
    phases = [r.__dict__["phase"] for r in records if r.getMessage() == "import phase"]
    assert phases == ["plans", "members", "leads", "enrich"]
    batches = {r.__dict__["entity"] for r in records if r.getMessage() == "import batch"}
    assert batches == {"plans", "members", "leads", "enrichment"}
    assert records[-1].getMessage() == "import completed"
    assert all(
        (r.__dict__["job_id"], r.__dict__["org_id"]) == (job["id"], world.org_id) for r in records
    )


async def test_a_unique_violation_in_a_member_batch_is_retried_and_succeeds(
    tmp_path: Path, clean_pg_url: str, arbox: SandboxThread
) -> None:
    """QA: negative/robustness: a member batch hits a unique violation (someone signs up
    with an imported email between the batch's read and its write): the batch is retried
    and the import completes, linking that person instead of duplicating them."""
    SignUpFirst.raced = False
    SignUpFirst.python = False
    engine = create_engine(clean_pg_url)
    try:
        async with arbox_world(tmp_path, clean_pg_url, arbox, uow=RacingFactory(engine)) as world:
            world.arbox.sandbox.generate(40)
            users = await world.count(t.users)
            job = await world.run(**LOGIN, entities={"members": True})
            after = await world.count(t.users)
            async with engine.connect() as conn:
                linked = (
                    await conn.execute(
                        sa.select(sa.func.count())
                        .select_from(t.memberships)
                        .where(t.memberships.c.user_id == SIGNED_UP_ID)
                    )
                ).scalar_one()
    finally:
        await engine.dispose()
    assert SignUpFirst.raced
    assert job["status"] == "completed", job
    assert job["results"]["members"]["created"] == 40 - 1  # the malformed email fails
    assert after == users + 40 - 1  # the signed-up person is one of them, once
    assert linked == 1
