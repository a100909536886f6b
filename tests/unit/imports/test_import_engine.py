"""The import engine end to end on the memory adapters and the in-memory member source."""

from __future__ import annotations

import gc
import logging
from typing import Any

import attrs
import pytest

from fitdata_adapters.memory.member_source import MemoryMemberSource
from fitdata_adapters.memory.services import memory_services
from fitdata_core.errors import Conflict, InvalidInput, PermissionDenied
from fitdata_core.model.imports import ImportEntity, Tally
from fitdata_core.model.jobs import ImportStatus
from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.policies import ImportPolicy
from fitdata_core.ports.providers import SourceMemberDetail
from fitdata_core.ports.repositories import MemberFilter
from fitdata_core.services import Services
from fitdata_core.usecases.imports import (
    MESSAGE_AUTH,
    ImportRequest,
    cancel_import,
    start_import,
    undo_import,
)
from support import builders
from support.imports import API_KEY, PLANS, add_gym, drain, job_of, members


def _svc(source: MemoryMemberSource, **policy: Any) -> Services:
    """Services whose import engine retries at once (and any other ``ImportPolicy`` field)."""
    return memory_services(
        member_source=source, imports=ImportPolicy(retry_delays=(0, 0), **policy)
    )


def _request(**kw: object) -> ImportRequest:
    values: dict[str, object] = {"credentials": API_KEY, "enrich": False}
    return ImportRequest(**(values | kw))  # type: ignore[arg-type]


async def _members_of(svc: Services, org_id: str) -> dict[str, tuple[str, str | None, str | None]]:
    async with svc.uow() as uow:
        page = await uow.memberships.list_members(org_id, MemberFilter(), limit=100_000, offset=0)
    return {
        r.user.email: (r.membership.status.value, r.user.first_name, r.membership.plan_id)
        for r in page.items
    }


async def test_a_bad_email_is_a_row_error_and_the_rest_lands() -> None:
    rows = members(1500)
    rows[700] = attrs.evolve(rows[700], email="not-an-email")
    source = MemoryMemberSource(plans=PLANS, members=rows, page_size=400)
    svc = _svc(source)
    gym = await add_gym(svc)
    job_id = await start_import(svc, gym.owner, gym.org_id, _request())
    await drain(svc)
    job = await job_of(svc, job_id)
    assert job.status is ImportStatus.COMPLETED
    assert job.report.tally(ImportEntity.MEMBERS) == Tally(created=1499, failed=1)
    assert job.report.error_count == 1
    [problem] = job.report.problems
    assert (problem.source_id, problem.field) == ("1700", "email")
    landed = await _members_of(svc, gym.org_id)
    assert len(landed) == 1500  # 1,499 imported plus the owner
    assert job.report.progress["members"].processed == 1500
    assert job.report.progress["members"].total == 1500


async def test_the_garbage_collector_is_on_again_after_an_import() -> None:
    # The stage steps pause the cyclic collector around their per-row loops: it must come
    # back on, including after a failing row.
    rows = members(900)
    rows[10] = attrs.evolve(rows[10], email="not-an-email")
    svc = _svc(MemoryMemberSource(plans=PLANS, members=rows, page_size=400))
    gym = await add_gym(svc)
    assert gc.isenabled()
    job_id = await start_import(svc, gym.owner, gym.org_id, _request())
    await drain(svc)
    assert (await job_of(svc, job_id)).report.tally(ImportEntity.MEMBERS).failed == 1
    assert gc.isenabled()


async def test_rerunning_an_unchanged_source_writes_nothing() -> None:
    source = MemoryMemberSource(plans=PLANS, members=members(30))
    svc = _svc(source)
    gym = await add_gym(svc)
    await start_import(svc, gym.owner, gym.org_id, _request())
    await drain(svc)
    async with svc.uow() as uow:
        before = uow.tables.copy()
    second = await start_import(svc, gym.owner, gym.org_id, _request())
    await drain(svc)
    job = await job_of(svc, second)
    assert job.results["members"] == Tally(unchanged=30).to_dict()
    assert job.results["plans"] == Tally(unchanged=1).to_dict()
    async with svc.uow() as uow:
        assert uow.tables.users == before.users
        assert uow.tables.memberships == before.memberships
        assert uow.tables.profiles == before.profiles
        assert await uow.imports.changes(second) == []


async def test_a_changed_field_updates_just_that_row_and_emails_match_any_case() -> None:
    rows = members(5)
    source = MemoryMemberSource(plans=PLANS, members=rows)
    svc = _svc(source)
    gym = await add_gym(svc)
    await start_import(svc, gym.owner, gym.org_id, _request())
    await drain(svc)
    source.members = [
        attrs.evolve(rows[0], email="M0@GYM.example", first_name="Renamed"),
        *rows[1:],
    ]
    job_id = await start_import(svc, gym.owner, gym.org_id, _request())
    await drain(svc)
    job = await job_of(svc, job_id)
    assert job.results["members"] == Tally(updated=1, unchanged=4).to_dict()
    assert (await _members_of(svc, gym.org_id))["m0@gym.example"][1] == "Renamed"


async def test_an_existing_user_of_another_gym_is_linked_not_rewritten() -> None:
    source = MemoryMemberSource(members=members(1, first_name="FromArbox"))
    svc = _svc(source)
    other = await add_gym(svc)
    gym = await add_gym(svc)
    shared = builders.user(email="m0@gym.example", first_name="Original")
    async with svc.uow() as uow:
        await uow.users.add(shared)
        await uow.memberships.add(builders.membership(other.org_id, shared.id))
        await uow.commit()
    job_id = await start_import(svc, gym.owner, gym.org_id, _request(plans=False))
    await drain(svc)
    assert (await job_of(svc, job_id)).results["members"]["created"] == 1
    status, first_name, _ = (await _members_of(svc, gym.org_id))["m0@gym.example"]
    assert (status, first_name) == ("active", "Original")


async def test_an_admin_keeps_role_and_status_and_inactive_members_get_inactive() -> None:
    source = MemoryMemberSource(members=[*members(1, active=False), *members(1, start=1)])
    svc = _svc(source)
    gym = await add_gym(svc)
    admin = builders.user(email="m1@gym.example")
    async with svc.uow() as uow:
        await uow.users.add(admin)
        await uow.memberships.add(
            builders.membership(
                gym.org_id, admin.id, role=Role.ADMIN, status=MembershipStatus.SUSPENDED
            )
        )
        await uow.commit()
    await start_import(svc, gym.owner, gym.org_id, _request(plans=False))
    await drain(svc)
    async with svc.uow() as uow:
        kept = await uow.memberships.get(gym.org_id, admin.id)
    assert kept is not None
    assert (kept.role, kept.status) == (Role.ADMIN, MembershipStatus.SUSPENDED)
    assert (await _members_of(svc, gym.org_id))["m0@gym.example"][0] == "inactive"


async def test_plans_upsert_by_name_and_link_memberships() -> None:
    source = MemoryMemberSource(plans=PLANS, members=members(2))
    svc = _svc(source)
    gym = await add_gym(svc)
    await start_import(svc, gym.owner, gym.org_id, _request())
    await drain(svc)
    source.plans = [attrs.evolve(PLANS[0], session_count=12)]
    job_id = await start_import(svc, gym.owner, gym.org_id, _request())
    await drain(svc)
    assert (await job_of(svc, job_id)).results["plans"] == Tally(updated=1).to_dict()
    async with svc.uow() as uow:
        plans = await uow.plans.list_for_org(gym.org_id)
    assert [(p.name, p.session_count) for p in plans] == [("Monthly", 12)]
    assert {v[2] for k, v in (await _members_of(svc, gym.org_id)).items() if k.startswith("m")} == {
        plans[0].id
    }


async def test_whitelist_skips_the_others() -> None:
    source = MemoryMemberSource(members=members(4))
    svc = _svc(source)
    gym = await add_gym(svc)
    job_id = await start_import(
        svc, gym.owner, gym.org_id, _request(plans=False, email_whitelist=("M1@gym.example",))
    )
    await drain(svc)
    assert (await job_of(svc, job_id)).results["members"] == Tally(created=1, skipped=3).to_dict()


async def test_dry_run_reports_the_same_counts_and_writes_nothing() -> None:
    rows = members(10)
    rows[3] = attrs.evolve(rows[3], email=None)
    source = MemoryMemberSource(plans=PLANS, members=rows)
    svc = _svc(source)
    gym = await add_gym(svc)
    dry = await start_import(svc, gym.owner, gym.org_id, _request(dry_run=True))
    await drain(svc)
    assert len(await _members_of(svc, gym.org_id)) == 1
    real = await start_import(svc, gym.owner, gym.org_id, _request())
    await drain(svc)
    dry_job, real_job = await job_of(svc, dry), await job_of(svc, real)
    assert dry_job.results == real_job.results
    assert dry_job.report.problems == real_job.report.problems
    assert dry_job.report.problems[0].reason == "A member needs an email address."
    # No false "no plan named" warning in the dry run: the plan it would create counts.
    assert dry_job.report.warning_count == 0


async def test_undo_reverts_created_and_updated_rows_but_not_rows_changed_since() -> None:
    rows = members(3)
    source = MemoryMemberSource(members=rows)
    svc = _svc(source)
    gym = await add_gym(svc)
    await start_import(svc, gym.owner, gym.org_id, _request(plans=False))
    await drain(svc)
    source.members = [attrs.evolve(r, first_name="Second") for r in rows] + members(1, start=3)
    second = await start_import(svc, gym.owner, gym.org_id, _request(plans=False))
    await drain(svc)
    async with svc.uow() as uow:  # someone edits m2 after the import
        m2 = await uow.users.get_by_email("m2@gym.example")
        assert m2 is not None
        await uow.users.update(attrs.evolve(m2, first_name="EditedByHand"))
        await uow.commit()
    report = await undo_import(svc, gym.owner, gym.org_id, second)
    after = await _members_of(svc, gym.org_id)
    assert "m3@gym.example" not in after  # created by the import: removed
    assert after["m0@gym.example"][1] == "First0"  # updated: restored
    assert after["m2@gym.example"][1] == "EditedByHand"  # changed since: left, listed
    assert [(c.entity, c.reason) for c in report.conflicts] == [
        ("user", "changed since the import; left as is")
    ]
    assert (await job_of(svc, second)).status is ImportStatus.UNDONE
    with pytest.raises(Conflict):
        await undo_import(svc, gym.owner, gym.org_id, second)


async def test_one_active_import_per_org_and_cancel_of_a_pending_one() -> None:
    svc = _svc(MemoryMemberSource(members=members(3)))
    gym = await add_gym(svc)
    first = await start_import(svc, gym.owner, gym.org_id, _request())
    with pytest.raises(Conflict, match="Active import already exists"):
        await start_import(svc, gym.owner, gym.org_id, _request())
    cancelled = await cancel_import(svc, gym.owner, gym.org_id, first)
    assert cancelled.status is ImportStatus.CANCELLED
    await drain(svc)
    assert (await job_of(svc, first)).status is ImportStatus.CANCELLED
    assert len(await _members_of(svc, gym.org_id)) == 1


async def test_cancel_while_running_keeps_what_landed() -> None:
    source = MemoryMemberSource(members=members(50), page_size=10)
    svc = _svc(source, batch_size=10)
    gym = await add_gym(svc)
    job_id = await start_import(svc, gym.owner, gym.org_id, _request(plans=False))

    async def cancel_on_third_page(number: int) -> None:
        if number == 2:
            await cancel_import(svc, gym.owner, gym.org_id, job_id)

    source.on_page = cancel_on_third_page
    # The cancel is requested from inside the running slice's source call.
    await drain(svc)
    job = await job_of(svc, job_id)
    assert job.status is ImportStatus.CANCELLED


async def test_401_fails_the_job_telling_the_owner_what_to_do() -> None:
    source = MemoryMemberSource(members=members(3))
    source.refuse_credentials = True
    svc = _svc(source)
    gym = await add_gym(svc)
    job_id = await start_import(svc, gym.owner, gym.org_id, _request())
    await drain(svc)
    job = await job_of(svc, job_id)
    assert (job.status, job.error_message) == (ImportStatus.FAILED, MESSAGE_AUTH)
    assert "401" in MESSAGE_AUTH
    assert job.credentials_sealed is None


async def test_transient_provider_errors_are_retried_then_fail_the_job() -> None:
    source = MemoryMemberSource(members=members(3))
    source.fail_next = 2
    svc = _svc(source)
    gym = await add_gym(svc)
    ok = await start_import(svc, gym.owner, gym.org_id, _request(plans=False))
    await drain(svc)
    assert (await job_of(svc, ok)).status is ImportStatus.COMPLETED
    source.fail_next = 10
    failed = await start_import(svc, gym.owner, gym.org_id, _request(plans=False))
    await drain(svc)
    job = await job_of(svc, failed)
    assert job.status is ImportStatus.FAILED
    assert job.error_message is not None
    assert "503" in job.error_message


async def test_an_empty_source_completes_with_zeros() -> None:
    svc = _svc(MemoryMemberSource())
    gym = await add_gym(svc)
    job_id = await start_import(svc, gym.owner, gym.org_id, _request(leads=True))
    await drain(svc)
    job = await job_of(svc, job_id)
    assert job.status is ImportStatus.COMPLETED
    assert all(Tally.from_dict(t).rows == 0 for t in job.results.values())


async def test_only_owners_and_admins_import_and_credentials_are_required() -> None:
    svc = _svc(MemoryMemberSource())
    coach_gym = await add_gym(svc, role=Role.COACH)
    with pytest.raises(PermissionDenied, match=r"Only owners and admins can import data\."):
        await start_import(svc, coach_gym.owner, coach_gym.org_id, _request())
    gym = await add_gym(svc)
    with pytest.raises(InvalidInput, match="No Arbox credentials"):
        await start_import(svc, gym.owner, gym.org_id, _request(credentials=None))


async def test_big_imports_use_one_message_per_slice_not_per_member() -> None:
    source = MemoryMemberSource(members=members(2500), page_size=500)
    svc = _svc(source, slice_batches=3)
    gym = await add_gym(svc)
    job_id = await start_import(svc, gym.owner, gym.org_id, _request(plans=False))
    runs = await drain(svc)
    job = await job_of(svc, job_id)
    assert job.results["members"]["created"] == 2500
    # 5 stage steps + 1 end-of-source step + 3 apply steps = 9 steps, 3 a message.
    assert runs <= 2500 // 1000 + 3


async def test_enrichment_fills_empty_profile_fields_only() -> None:
    rows = members(2)
    source = MemoryMemberSource(
        members=rows,
        details=[
            SourceMemberDetail(
                external_id="1000", city="Haifa", zip_code="3100001", personal_id="123"
            ),
        ],
    )
    svc = _svc(source)
    gym = await add_gym(svc)
    job_id = await start_import(svc, gym.owner, gym.org_id, _request(plans=False, enrich=True))
    await drain(svc)
    job = await job_of(svc, job_id)
    assert job.results["enrichment"] == Tally(updated=1, unchanged=1).to_dict()
    async with svc.uow() as uow:
        user = await uow.users.get_by_email("m0@gym.example")
        assert user is not None
        profile = await uow.profiles.get(gym.org_id, user.id)
    assert profile is not None
    assert (profile.city, profile.zip_code) == ("Haifa", "3100001")


async def test_every_phase_and_batch_is_logged_with_job_and_org(
    caplog: pytest.LogCaptureFixture,
) -> None:
    svc = _svc(MemoryMemberSource(plans=PLANS, members=members(3)))
    gym = await add_gym(svc)
    job_id = await start_import(svc, gym.owner, gym.org_id, _request())
    with caplog.at_level("INFO", logger="fitdata.imports"):
        await drain(svc)
    records = [r for r in caplog.records if r.name == "fitdata.imports"]
    events = [r.getMessage() for r in records]
    assert "import phase" in events
    assert "import batch" in events
    assert events[-1] == "import completed"
    phases = [r.__dict__["phase"] for r in records if r.getMessage() == "import phase"]
    assert phases == ["plans", "members", "leads", "enrich"]
    assert all(
        (r.__dict__["job_id"], r.__dict__["org_id"]) == (job_id, gym.org_id) for r in records
    )


class _BrokenSource(MemoryMemberSource):
    async def fetch_plans(self, credentials: object) -> list[object]:  # type: ignore[override]
        raise KeyError("a bug")


async def test_an_unexpected_error_fails_the_job_without_leaking_it() -> None:
    svc = _svc(_BrokenSource())
    gym = await add_gym(svc)
    job_id = await start_import(svc, gym.owner, gym.org_id, _request())
    await drain(svc)
    job = await job_of(svc, job_id)
    assert job.status is ImportStatus.FAILED
    assert job.error_message == "The import failed unexpectedly; please try again."


async def test_a_source_that_stages_its_own_rows_only_applies() -> None:
    """The CSV path: rows bulk-loaded into staging at upload, the job says they are fetched."""
    from fitdata_core.job_names import IMPORT_RUN as IMPORT_RUN_JOB
    from fitdata_core.model.jobs import ImportJob, ImportPhase, ImportSource
    from fitdata_core.rules.import_values import MemberRecord, PlanRecord

    svc = _svc(MemoryMemberSource())  # never called: no credentials, no source calls
    gym = await add_gym(svc)
    job = ImportJob(
        id=svc.ids.new_id(),
        organization_id=gym.org_id,
        source=ImportSource.CSV,
        status=ImportStatus.PENDING,
        phase=ImportPhase.QUEUED,
        config={"entities": {"plans": True, "members": True}},
        started_by=gym.owner.user_id,
        created_at=svc.clock.now(),
        checkpoint={
            "plans.fetched": 1,
            "members.fetched": 1,
            "members.rows": 3,
            "members.seen": 3,
        },
    )
    rows = [
        (i, MemberRecord(str(i), f"csv{i}@gym.example", plan_name="Gold").to_dict())
        for i in range(3)
    ]
    async with svc.uow() as uow:
        await uow.import_jobs.add(job)
        await uow.imports.stage(
            job.id, "plans", [(0, PlanRecord("p", "Gold", PLANS[0].price).to_dict())]
        )
        await uow.imports.stage(job.id, "members", rows)
        await uow.outbox.add(svc.job(IMPORT_RUN_JOB, job_id=job.id))
        await uow.commit()
    await drain(svc)
    done = await job_of(svc, job.id)
    assert done.status is ImportStatus.COMPLETED, done.error_message
    assert done.results["members"]["created"] == 3
    assert done.results["plans"]["created"] == 1
    assert sum(done.report.tally(ImportEntity.ENRICHMENT).to_dict().values()) == 0
    assert done.report.warning_count == 0  # every member linked to the staged plan


async def test_small_pages_are_staged_several_to_a_step(caplog: pytest.LogCaptureFixture) -> None:
    source = MemoryMemberSource(members=members(2500), page_size=100)
    svc = _svc(source, stage_rows=1000)
    gym = await add_gym(svc)
    job_id = await start_import(svc, gym.owner, gym.org_id, _request(plans=False))
    caplog.set_level(logging.INFO, logger="fitdata.imports")
    await drain(svc)
    job = await job_of(svc, job_id)
    assert job.results["members"]["created"] == 2500
    staged = [r for r in caplog.records if r.getMessage() == "import staged"]
    assert [r.rows for r in staged] == [1000, 1000, 500]  # type: ignore[attr-defined]
    assert job.checkpoint["members.pages"] == 25
