"""Contract: the import engine's repository (``uow.imports``) and the import-job lease."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs
import pytest
from seeding import seed_org

from fitdata_core.errors import Conflict
from fitdata_core.model.jobs import ImportJob, ImportSource, ImportStatus
from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.money import Money
from fitdata_core.ports.repositories import UnitOfWorkFactory
from fitdata_core.rules.import_merge import (
    ExistingMember,
    LeadWrites,
    MemberWrites,
    PlanWrites,
    RowChange,
    merge_leads,
    merge_members,
)
from fitdata_core.rules.import_values import LeadRecord, MemberRecord
from support import builders
from support.builders import T0, at

pytestmark = pytest.mark.integration


def _record(i: int, **kw: object) -> MemberRecord:
    values: dict[str, object] = {
        "external_id": str(i),
        "email": f"m{i}@gym.example",
        "first_name": f"F{i}",
        "phone": "+972541234567",
        "start_date": "2026-01-01",
    }
    return MemberRecord(**(values | kw))  # type: ignore[arg-type]


async def _merge(
    uow_factory: UnitOfWorkFactory, org_id: str, records: list[MemberRecord]
) -> MemberWrites:
    async with uow_factory() as uow:
        existing = await uow.imports.existing_members(org_id, [r.email for r in records])
        writes = merge_members(
            org_id, records, existing, {}, source="arbox", now=T0, new_id=builders.new_id
        )
        await uow.imports.write_members(writes)
        await uow.commit()
    return writes


async def test_staging_keeps_rows_in_seq_order_per_job_and_entity(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = await seed_org(uow_factory)
    job = builders.import_job(org.id, "u1")
    async with uow_factory() as uow:
        await uow.import_jobs.add(job)
        await uow.imports.stage(job.id, "members", [(i, {"n": i, "name": "שרה"}) for i in range(5)])
        await uow.imports.stage(job.id, "leads", [(0, {"n": "lead"})])
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.imports.staged(job.id, "members", from_seq=2, limit=2) == [
            (2, {"n": 2, "name": "שרה"}),
            (3, {"n": 3, "name": "שרה"}),
        ]
        await uow.imports.drop_staged(job.id, entity="members", from_seq=3)
        assert [s for s, _ in await uow.imports.staged(job.id, "members", from_seq=0, limit=9)] == [
            0,
            1,
            2,
        ]
        await uow.imports.drop_staged(job.id)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.imports.staged(job.id, "leads", from_seq=0, limit=9) == []


async def test_staged_member_records_read_back_as_they_went_in(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # A member record's dict goes to the typed columns; a dict with the same keys but a value
    # that is not text (or None) cannot, and must come back unchanged all the same.
    org = await seed_org(uow_factory)
    job = builders.import_job(org.id, "u1")
    record = _record(0, last_name="כהן", status=MembershipStatus.INACTIVE).to_dict()
    odd = {**_record(1).to_dict(), "gender": 3}
    class_text = {**_record(2).to_dict(), "status": MembershipStatus.ACTIVE}
    async with uow_factory() as uow:
        await uow.import_jobs.add(job)
        await uow.imports.stage(job.id, "members", [(0, record), (1, odd), (2, class_text)])
        await uow.commit()
    async with uow_factory() as uow:
        staged = await uow.imports.staged(job.id, "members", from_seq=0, limit=9)
    assert staged == [(0, record), (1, odd), (2, {**class_text, "status": "active"})]
    assert MemberRecord.from_dict(staged[0][1]) == _record(
        0, last_name="כהן", status=MembershipStatus.INACTIVE
    )


async def test_member_records_staged_as_they_are_read_back_as_their_dicts(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # The engine stages a member record itself (no dict a row); beside a dict, in one call.
    org = await seed_org(uow_factory)
    job = builders.import_job(org.id, "u1")
    inactive = _record(0, first_name="דנה", status=MembershipStatus.INACTIVE)
    plain = _record(1)
    async with uow_factory() as uow:
        await uow.import_jobs.add(job)
        await uow.imports.stage(
            job.id, "members", [(0, inactive), (1, plain.to_dict()), (2, _record(2))]
        )
        await uow.commit()
    async with uow_factory() as uow:
        staged = await uow.imports.staged(job.id, "members", from_seq=0, limit=9)
    assert staged == [(0, inactive.to_dict()), (1, plain.to_dict()), (2, _record(2).to_dict())]
    assert staged[0][1]["status"] == "inactive"
    assert [MemberRecord.from_dict(data) for _, data in staged] == [inactive, plain, _record(2)]


async def test_member_writes_land_once_and_a_rerun_decides_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = await seed_org(uow_factory)
    records = [_record(i) for i in range(3)]
    first = await _merge(uow_factory, org.id, records)
    assert first.tally.created == 3
    async with uow_factory() as uow:
        existing = await uow.imports.existing_members(
            org.id, ["M0@GYM.EXAMPLE", "m1@gym.example", "x@y.z"]
        )
    assert sorted(existing) == ["m0@gym.example", "m1@gym.example"]
    stored = existing["m0@gym.example"]
    assert stored.membership is not None
    assert stored.membership.start_date == "2026-01-01"
    assert stored.profile is not None
    assert stored.profile.external_id == "0"
    assert not stored.in_other_orgs
    again = await _merge(uow_factory, org.id, records)
    assert (again.tally.unchanged, again.writes) == (3, 0)
    changed = await _merge(uow_factory, org.id, [_record(0, status=MembershipStatus.INACTIVE)])
    assert changed.tally.updated == 1
    async with uow_factory() as uow:
        membership = (await uow.imports.existing_members(org.id, ["m0@gym.example"]))[
            "m0@gym.example"
        ].membership
    assert membership is not None
    assert membership.status is MembershipStatus.INACTIVE


async def test_a_user_added_since_the_read_is_a_conflict(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    records = [_record(0)]
    async with uow_factory() as uow:
        writes = merge_members(
            org.id, records, {}, {}, source="arbox", now=T0, new_id=builders.new_id
        )
    async with uow_factory() as uow:
        await uow.users.add(builders.user(email="m0@gym.example"))
        await uow.commit()
    with pytest.raises(Conflict):
        async with uow_factory() as uow:
            await uow.imports.write_members(writes)


async def test_members_of_another_org_are_flagged(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    user = builders.user(email="shared@gym.example")
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.memberships.add(builders.membership(other.id, user.id, role=Role.COACH))
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.imports.existing_members(org.id, ["shared@gym.example"])
        assert await uow.imports.membership_count(user.id) == 1
    assert found == {"shared@gym.example": ExistingMember(user=user, in_other_orgs=True)}


async def test_plans_and_leads_write_and_match(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    plan = builders.plan(org.id, name="Gold")
    async with uow_factory() as uow:
        await uow.imports.write_plans(PlanWrites(new_plans=[plan]))
        await uow.commit()
    cheaper = attrs.evolve(plan, price=Money(Decimal("199.00")))
    async with uow_factory() as uow:
        assert await uow.imports.plans_by_name(org.id) == {"Gold": plan}
        await uow.imports.write_plans(PlanWrites(updated_plans=[cheaper]))
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.imports.plans_by_name(org.id, ["Gold", "Silver"]))[
            "Gold"
        ].price == cheaper.price
    leads = [
        LeadRecord(external_id="1", email="lead@gym.example"),
        LeadRecord(external_id="2", phone="+972541111111"),
    ]
    writes = merge_leads(org.id, leads, {}, now=T0, new_id=builders.new_id)
    async with uow_factory() as uow:
        await uow.imports.write_leads(writes)
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.imports.leads_by_key(org.id, ["LEAD@gym.example"], ["+972541111111"])
    assert sorted(found) == ["email:lead@gym.example", "phone:+972541111111"]
    assert merge_leads(org.id, leads, found, now=T0, new_id=builders.new_id).tally.unchanged == 2
    assert LeadWrites().tally.rows == 0


async def test_changes_current_values_and_restore(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    job = builders.import_job(org.id, "u1")
    writes = await _merge(uow_factory, org.id, [_record(0)])
    user = writes.new_users[0]
    async with uow_factory() as uow:
        await uow.import_jobs.add(job)
        await uow.imports.add_changes(job.id, writes.changes)
        await uow.imports.add_changes(
            job.id,
            [RowChange("user", user.id, "updated", {"first_name": "F0"}, {"first_name": "Old"})],
        )
        await uow.commit()
    async with uow_factory() as uow:
        changes = await uow.imports.changes(job.id)
        assert changes == [*writes.changes, changes[-1]]
        assert await uow.imports.current(org.id, "user", user.id) == {
            "first_name": "F0",
            "last_name": None,
            "phone": "+972541234567",
        }
        await uow.imports.restore(org.id, "user", user.id, {"first_name": "Old"})
        await uow.imports.restore(org.id, "profile", user.id, None)
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.users.get(user.id)).first_name == "Old"  # type: ignore[union-attr]
        assert await uow.imports.current(org.id, "profile", user.id) is None
        membership = await uow.imports.current(org.id, "membership", writes.new_memberships[0].id)
    assert membership is not None
    assert membership["status"] == "active"


async def test_profiles_fill_only_empty_fields(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    writes = await _merge(uow_factory, org.id, [_record(0), _record(1)])
    async with uow_factory() as uow:
        profiles = await uow.imports.imported_profiles(org.id, "arbox", offset=0, limit=10)
        assert len(profiles) == 2
        first = attrs.evolve(profiles[0], city="Haifa", zip_code="1")
        await uow.imports.fill_profiles([first])
        await uow.commit()
    async with uow_factory() as uow:
        await uow.imports.fill_profiles([attrs.evolve(first, city="Eilat")])
        await uow.commit()
        again = await uow.imports.imported_profiles(org.id, "arbox", offset=0, limit=1)
    assert (again[0].city, again[0].zip_code) == ("Haifa", "1")
    assert {p.user_id for p in profiles} == {u.id for u in writes.new_users}


async def test_jobs_whose_lease_ended_are_listed_with_their_lease_and_checkpoint(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    ended = builders.import_job(org.id, "u1", dry_run=True, enrich=False)
    ended, _ = ended.start(at(0))
    ended = attrs.evolve(
        ended.take_lease("w1", at(0), at(1)),
        checkpoint={"members.applied": 1000},
        cancel_requested=True,
        credentials_key_id="k1",
        credentials_sealed=b"\x00sealed",
    )
    held = builders.import_job(other.id, "u1").take_lease("w2", at(0), at(10))
    async with uow_factory() as uow:
        await uow.import_jobs.add(ended)
        await uow.import_jobs.add(held)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.import_jobs.list_lease_ended(at(2), limit=10) == [ended]
        assert await uow.import_jobs.list_lease_ended(at(20), limit=10) == [ended, held]
        assert await uow.import_jobs.list_lease_ended(at(0) - timedelta(seconds=1), limit=10) == []
    done, _ = ended.complete(at(3))
    assert done.status is ImportStatus.COMPLETED
    assert done.credentials_sealed is None


def _finished_csv(
    org_id: str, status: ImportStatus, finished: float, **config: object
) -> ImportJob:
    return builders.import_job(
        org_id,
        "u1",
        status=status,
        completed_at=at(finished),
        config={"file": {"key": f"imports/{org_id}/x/source.csv"}, **config},
    )


async def test_csv_jobs_whose_file_is_due_are_listed_first_finished_first(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    running_org = await seed_org(uow_factory)
    due = [
        _finished_csv(org.id, ImportStatus.COMPLETED, 10),
        _finished_csv(other.id, ImportStatus.FAILED, 20),
        _finished_csv(org.id, ImportStatus.CANCELLED, 30),
        _finished_csv(org.id, ImportStatus.UNDONE, 30),
    ]
    never = [
        # Running (even with a finish time), an Arbox job, a file already deleted, no file.
        _finished_csv(running_org.id, ImportStatus.IN_PROGRESS, 5),
        attrs.evolve(
            _finished_csv(org.id, ImportStatus.COMPLETED, 5),
            source=ImportSource.ARBOX,
            config={"entities": {"members": True}},
        ),
        _finished_csv(org.id, ImportStatus.COMPLETED, 5, fileDeletedAt=at(50).isoformat()),
        attrs.evolve(_finished_csv(org.id, ImportStatus.COMPLETED, 5), config={"headers": []}),
    ]
    async with uow_factory() as uow:
        for job in [*due, *never]:
            await uow.import_jobs.add(job)
        await uow.commit()
    in_order = sorted(due, key=lambda j: (j.completed_at, j.id))
    async with uow_factory(read_only=True) as uow:
        assert await uow.import_jobs.list_files_due(at(100), limit=10) == in_order
        # Strictly before the cut-off: a job finished at it is not listed.
        assert await uow.import_jobs.list_files_due(at(30), limit=10) == in_order[:2]
        assert await uow.import_jobs.list_files_due(at(10), limit=10) == []
        # Paged by (completed_at, id), ties included.
        first = await uow.import_jobs.list_files_due(at(100), limit=3)
        assert first == in_order[:3]
        last = first[-1]
        assert last.completed_at is not None
        rest = await uow.import_jobs.list_files_due(
            at(100), limit=3, after=(last.completed_at, last.id)
        )
        assert rest == in_order[3:]
