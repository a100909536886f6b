"""The members export QA rows that hold at the use-case level, on the memory adapters.

Test names follow the QA plan's rows (docs: exports-imports-qa-plan, "Exports").
"""

from __future__ import annotations

import csv
import io
import re

import attrs
import pytest
from export_support import (
    START,
    DatabaseThatDropsMidStream,
    Gym,
    StorageThatBreaksMidStream,
    add_person,
    add_profile,
    hours,
)

from fitdata_adapters.clock import ManualClock
from fitdata_adapters.mail.memory import MemoryMailer
from fitdata_adapters.memory import MemoryErrorReporter, MemoryUnitOfWorkFactory
from fitdata_adapters.storage.memory import MemoryStorage
from fitdata_core.errors import InvalidInput, NotFound, PermissionDenied, RateLimited
from fitdata_core.job_names import EXPORT_MEMBERS
from fitdata_core.model.jobs import ExportJob, ExportStatus
from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.rules.export_fields import DEFAULT_EXPORT_FIELDS, EXPORT_FIELDS
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.exports import (
    export_file_key,
    get_export_job,
    list_export_jobs,
    process_member_export,
    request_member_export,
)
from support import builders

IP = "203.0.113.7"
BOM = b"\xef\xbb\xbf"


async def _export(svc: Services, gym: Gym, **request: list[str]) -> ExportJob:
    job_id = await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP, **request)
    job = await process_member_export(svc, job_id=job_id)
    assert job is not None
    return job


async def _job(svc: Services, job_id: str) -> ExportJob:
    async with svc.uow() as uow:
        job = await uow.export_jobs.get(job_id)
    assert job is not None
    return job


def _csv(storage: MemoryStorage, job: ExportJob) -> tuple[bytes, list[list[str]]]:
    assert job.file_key is not None
    data = _stored(storage, job.file_key)
    return data, list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _stored(storage: MemoryStorage, key: str) -> bytes:
    return storage.fetch_signed(f"memory://{key}?expires={2**40}")


def _emails(rows: list[list[str]]) -> list[str]:
    column = rows[0].index(EXPORT_FIELDS["email"].header)
    return sorted(r[column] for r in rows[1:])


def _link(text: str) -> str:
    match = re.search(r"memory://\S+", text)
    assert match is not None, text
    return match.group(0)


# --- Exports: auth & rate --------------------------------------------------------------------


async def test_member_calling_export_is_refused_with_403_message(svc: Services, gym: Gym) -> None:
    with pytest.raises(PermissionDenied) as refused:
        await request_member_export(svc, gym.member, gym.org_id, client_ip=IP)
    assert str(refused.value) == "Only owners and admins can export data."
    with pytest.raises(PermissionDenied, match=r"^Only owners and admins can export data\.$"):
        await request_member_export(svc, gym.coach, gym.org_id, client_ip=IP)


async def test_admin_may_export(svc: Services, gym: Gym) -> None:
    job_id = await request_member_export(svc, gym.admin, gym.org_id, client_ip=IP)
    assert (await _job(svc, job_id)).started_by == gym.admin.user_id


async def test_owner_with_empty_filters_enqueues_job_and_csv_has_every_member(
    svc: Services, gym: Gym, storage: MemoryStorage
) -> None:
    job_id = await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP)

    pending = await _job(svc, job_id)
    assert pending.status is ExportStatus.PENDING
    assert pending.kind == "members"
    assert pending.started_by == gym.owner.user_id
    assert pending.config == {"roles": [], "statuses": [], "fields": list(DEFAULT_EXPORT_FIELDS)}
    async with svc.uow() as uow:
        queued = await uow.outbox.claim_batch(limit=10, now=START, lease_seconds=30)
    assert [(m.actor, dict(m.args)) for m in queued] == [(EXPORT_MEMBERS, {"job_id": job_id})]

    job = await process_member_export(svc, job_id=job_id)
    assert job is not None
    assert job.status is ExportStatus.COMPLETED
    assert job.row_count == 8
    assert job.file_key == f"exports/{gym.org_id}/{job_id}.csv"
    data, rows = _csv(storage, job)
    assert job.file_size == len(data)
    assert _emails(rows) == gym.all_emails
    assert storage.content_type(job.file_key).startswith("text/csv")


async def test_eleven_export_requests_in_60_seconds_from_one_ip_11th_is_rate_limited(
    svc: Services, gym: Gym, clock: ManualClock
) -> None:
    for _ in range(10):
        await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP)
        clock.advance(hours(1 / 3600))
    with pytest.raises(RateLimited) as limited:
        await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP)
    assert 0 < limited.value.retry_after <= 60
    # The address is spent for everyone; the owner is spent from every address.
    with pytest.raises(RateLimited):
        await request_member_export(svc, gym.admin, gym.org_id, client_ip=IP)
    with pytest.raises(RateLimited):
        await request_member_export(svc, gym.owner, gym.org_id, client_ip="198.51.100.1")
    # Another caller from another address is counted apart, and the first one is let in once
    # the window passes.
    await request_member_export(svc, gym.admin, gym.org_id, client_ip="198.51.100.1")
    clock.advance(hours(1 / 60))
    await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP)
    async with svc.uow() as uow:
        jobs = await uow.export_jobs.list_for_org(gym.org_id, limit=50, offset=0)
    assert jobs.total == 12


# --- Exports: content ------------------------------------------------------------------------


async def test_filter_roles_coach_csv_contains_only_coach_rows(
    svc: Services, gym: Gym, storage: MemoryStorage
) -> None:
    job = await _export(svc, gym, roles=["coach"])
    _, rows = _csv(storage, job)
    assert _emails(rows) == sorted(gym.emails_by_role[Role.COACH])
    role = rows[0].index("Role")
    assert {r[role] for r in rows[1:]} == {"coach"}
    assert job.row_count == 2


async def test_filter_statuses_active_and_invited_csv_contains_only_those(
    svc: Services, gym: Gym, storage: MemoryStorage
) -> None:
    job = await _export(svc, gym, statuses=["active", "invited"])
    _, rows = _csv(storage, job)
    expected = (
        gym.emails_by_status[MembershipStatus.ACTIVE]
        + gym.emails_by_status[MembershipStatus.INVITED]
    )
    assert _emails(rows) == sorted(expected)
    status = rows[0].index("Status")
    assert {r[status] for r in rows[1:]} == {"active", "invited"}


async def test_roles_and_statuses_combine(svc: Services, gym: Gym, storage: MemoryStorage) -> None:
    job = await _export(svc, gym, roles=["member", "coach"], statuses=["suspended"])
    _, rows = _csv(storage, job)
    assert _emails(rows) == ["coach2@gym.io", "suspended@gym.io"]


async def test_filter_fields_email_first_name_csv_has_those_two_columns_in_order(
    svc: Services, gym: Gym, storage: MemoryStorage
) -> None:
    job = await _export(svc, gym, fields=["email", "firstName"])
    _, rows = _csv(storage, job)
    assert rows[0] == ["Email", "First name"]
    assert all(len(r) == 2 for r in rows)
    assert ["owner@gym.io", "Dana"] in rows

    reversed_job = await _export(svc, gym, fields=["firstName", "email"])
    _, reversed_rows = _csv(storage, reversed_job)
    assert reversed_rows[0] == ["First name", "Email"]


async def test_no_fields_gives_the_default_columns(
    svc: Services, gym: Gym, storage: MemoryStorage
) -> None:
    job = await _export(svc, gym)
    _, rows = _csv(storage, job)
    assert rows[0] == [EXPORT_FIELDS[k].header for k in DEFAULT_EXPORT_FIELDS]
    assert "Notes" not in rows[0]


async def test_csv_with_hebrew_names_renders_in_excel_utf8_bom_present(
    svc: Services, gym: Gym, storage: MemoryStorage
) -> None:
    user = await add_person(
        svc,
        gym.org_id,
        "noa@gym.io",
        Role.MEMBER,
        first_name="נועה",
        last_name='כהן-לוי, "הגדולה"',
    )
    await add_profile(
        svc, builders.profile(gym.org_id, user.id, city="תל אביב", notes="=cmd|' /C calc'!A0")
    )
    job = await _export(svc, gym, fields=["firstName", "lastName", "city", "notes", "phone"])
    data, rows = _csv(storage, job)
    assert data.startswith(BOM)
    assert "נועה".encode() in data
    noa = next(r for r in rows if r[0] == "נועה")
    assert noa[1:4] == ['כהן-לוי, "הגדולה"', "תל אביב", "'=cmd|' /C calc'!A0"]
    assert noa[4] == "+972501234567"  # a phone number is not mistaken for a formula


async def test_profile_columns_come_from_the_profile_and_are_empty_without_one(
    svc: Services, gym: Gym, storage: MemoryStorage
) -> None:
    user = await add_person(svc, gym.org_id, "dana@gym.io", Role.MEMBER)
    await add_profile(
        svc, builders.profile(gym.org_id, user.id, address="1 Herzl St", gender="female")
    )
    job = await _export(
        svc,
        gym,
        fields=["email", "birthDate", "gender", "address", "city", "joinedAt", "userId"],
    )
    _, rows = _csv(storage, job)
    by_email = {r[0]: r for r in rows[1:]}
    assert by_email["dana@gym.io"] == [
        "dana@gym.io",
        "1990-05-01",
        "female",
        "1 Herzl St",
        "Tel Aviv",
        START.isoformat(),
        user.id,
    ]
    assert by_email["owner@gym.io"][1:5] == ["", "", "", ""]


async def test_job_completes_email_lands_with_presigned_url_that_works_for_about_1h(
    svc: Services, gym: Gym, storage: MemoryStorage, clock: ManualClock, mailer: MemoryMailer
) -> None:
    job = await _export(svc, gym)
    sent = mailer.sent
    assert len(sent) == 1
    email = sent[0]
    assert email.to == gym.owner_email
    assert "ready" in email.subject.lower()
    assert "Your members export of Tel Aviv Strength is ready." in email.text
    assert "8 members" in email.text
    url = _link(email.text)
    assert url.startswith(f"memory://{export_file_key(gym.org_id, job.id)}?")

    clock.advance(hours(59 / 60))
    assert storage.fetch_signed(url) == _csv(storage, job)[0]
    clock.advance(hours(2 / 60))
    with pytest.raises(PermissionDenied):
        storage.fetch_signed(url)


async def test_job_fetched_3h_after_completion_gets_a_fresh_presigned_download_url(
    svc: Services, gym: Gym, storage: MemoryStorage, clock: ManualClock
) -> None:
    job = await _export(svc, gym)
    clock.advance(hours(3))

    view = await get_export_job(svc, gym.owner, gym.org_id, job.id)
    assert view.job == job
    assert view.download_url is not None
    assert storage.fetch_signed(view.download_url) == _csv(storage, job)[0]
    clock.advance(hours(0.9))
    assert storage.fetch_signed(view.download_url)  # still inside the fresh hour


async def test_pending_job_has_no_download_url(svc: Services, gym: Gym) -> None:
    job_id = await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP)
    view = await get_export_job(svc, gym.admin, gym.org_id, job_id)
    assert view.job.status is ExportStatus.PENDING
    assert view.download_url is None


# --- Exports: failure ------------------------------------------------------------------------


async def test_force_r2_upload_failure_job_lands_failed_and_no_object_remains(
    svc: Services,
    gym: Gym,
    storage: MemoryStorage,
    errors: MemoryErrorReporter,
    mailer: MemoryMailer,
) -> None:
    for leaves_partial in (False, True):
        broken = StorageThatBreaksMidStream(storage, leaves_partial=leaves_partial)
        svc_broken = _with(svc, storage=broken)
        job_id = await request_member_export(svc_broken, gym.owner, gym.org_id, client_ip=IP)

        job = await process_member_export(svc_broken, job_id=job_id)

        assert job is not None
        assert broken.chunks_taken == 1
        assert job.status is ExportStatus.FAILED
        assert job.error_message == "The export file could not be stored; please try again."
        assert await _job(svc, job_id) == job
        assert storage.keys == []
    assert mailer.sent == []
    assert any("StorageUnavailable" in r.message for r in errors.reports)


async def test_force_db_outage_mid_processor_job_lands_failed_with_error_message(
    svc: Services, gym: Gym, storage: MemoryStorage
) -> None:
    job_id = await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP)
    assert isinstance(svc.uow, MemoryUnitOfWorkFactory)
    flaky = _with(svc, uow=DatabaseThatDropsMidStream(svc.uow, after_rows=3))

    job = await process_member_export(flaky, job_id=job_id)

    assert job is not None
    assert job.status is ExportStatus.FAILED
    assert job.error_message == (
        "The database was unavailable while the export ran; please try again."
    )
    assert "Traceback" not in job.error_message
    assert (await _job(svc, job_id)).status is ExportStatus.FAILED
    assert storage.keys == []
    assert job.row_count is None


async def test_email_send_fails_job_still_completed_and_warning_logged(
    svc: Services, gym: Gym, errors: MemoryErrorReporter, mailer: MemoryMailer
) -> None:
    mailer.down = True
    job_id = await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP)

    job = await process_member_export(svc, job_id=job_id)

    assert job is not None
    assert mailer.sent == []
    assert job.status is ExportStatus.COMPLETED
    assert (await _job(svc, job_id)).status is ExportStatus.COMPLETED
    warnings = [r for r in errors.reports if r.level == "warning"]
    assert [w.message for w in warnings] == ["sendExportEmail failed: MailUnavailable"]
    assert warnings[0].context == {"job_id": job_id, "org_id": gym.org_id}
    # The download is still served by the API.
    view = await get_export_job(svc, gym.owner, gym.org_id, job_id)
    assert view.download_url is not None


async def test_a_job_delivered_twice_is_processed_once(
    svc: Services, gym: Gym, storage: MemoryStorage, mailer: MemoryMailer
) -> None:
    job_id = await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP)
    first = await process_member_export(svc, job_id=job_id)
    second = await process_member_export(svc, job_id=job_id)
    assert first == second
    assert len(mailer.sent) == 1
    assert storage.keys == [export_file_key(gym.org_id, job_id)]


async def test_an_unknown_job_is_reported_and_ignored(
    svc: Services, errors: MemoryErrorReporter
) -> None:
    assert await process_member_export(svc, job_id="no-such-job") is None
    assert [r.context for r in errors.reports] == [{"job_id": "no-such-job"}]


# --- request validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_fields", "field", "bad", "allowed"),
    [
        ({"roles": ["coach", "trainer"]}, "roles", "'trainer'", "owner, admin, coach, member"),
        (
            {"statuses": ["paused"]},
            "statuses",
            "'paused'",
            "active, invited, suspended, cancelled",
        ),
        ({"fields": ["email", "password"]}, "fields", "'password'", "email, phone"),
    ],
)
async def test_unknown_filter_values_are_refused_naming_the_value_and_the_allowed_ones(
    svc: Services,
    gym: Gym,
    request_fields: dict[str, list[str]],
    field: str,
    bad: str,
    allowed: str,
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP, **request_fields)
    assert refused.value.field == field
    assert bad in refused.value.message
    assert allowed in refused.value.message
    async with svc.uow() as uow:
        assert (await uow.export_jobs.list_for_org(gym.org_id, limit=5, offset=0)).total == 0
        assert await uow.outbox.claim_batch(limit=5, now=START, lease_seconds=1) == []


async def test_duplicates_are_dropped_and_filters_normalised(svc: Services, gym: Gym) -> None:
    job_id = await request_member_export(
        svc,
        gym.owner,
        gym.org_id,
        client_ip=IP,
        roles=["member", "owner", "member"],
        statuses=["invited", "active"],
        fields=["email", "email", "role"],
    )
    assert (await _job(svc, job_id)).config == {
        "roles": ["owner", "member"],
        "statuses": ["active", "invited"],
        "fields": ["email", "role"],
    }


async def test_one_caller_changing_address_still_gets_ten_a_minute(svc: Services, gym: Gym) -> None:
    for n in range(10):
        await request_member_export(svc, gym.owner, gym.org_id, client_ip=f"198.51.100.{n}")

    with pytest.raises(RateLimited):
        await request_member_export(svc, gym.owner, gym.org_id, client_ip="198.51.100.99")


async def test_refused_requests_spend_nobodys_budget(svc: Services, gym: Gym) -> None:
    stranger = Actor(user_id="stranger")
    for _ in range(25):
        with pytest.raises(PermissionDenied):
            await request_member_export(svc, gym.member, gym.org_id, client_ip=IP)
        with pytest.raises(PermissionDenied):
            await request_member_export(svc, stranger, gym.org_id, client_ip=IP)
        with pytest.raises(InvalidInput):
            await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP, roles=["x"])

    # The owner's ten a minute, from the very address the refused requests came from.
    for _ in range(10):
        await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP)


async def test_unknown_organization_is_404(svc: Services, gym: Gym) -> None:
    with pytest.raises(NotFound):
        await request_member_export(svc, gym.owner, "no-such-org", client_ip=IP)


# --- job status ------------------------------------------------------------------------------


async def test_jobs_are_listed_newest_first(svc: Services, gym: Gym, clock: ManualClock) -> None:
    ids = []
    for _ in range(3):
        ids.append(await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP))
        clock.advance(hours(0.001))
    page = await list_export_jobs(svc, gym.admin, gym.org_id, limit=2, offset=0)
    assert [j.id for j in page.items] == [ids[2], ids[1]]
    assert page.total == 3
    rest = await list_export_jobs(svc, gym.admin, gym.org_id, limit=2, offset=2)
    assert [j.id for j in rest.items] == [ids[0]]


async def test_members_may_not_see_export_jobs(svc: Services, gym: Gym) -> None:
    with pytest.raises(PermissionDenied, match=r"^Only owners and admins can export data\.$"):
        await list_export_jobs(svc, gym.member, gym.org_id)


async def test_a_job_of_another_organization_is_404(svc: Services, gym: Gym) -> None:
    job = await _export(svc, gym)
    other = builders.organization(name="Other gym")
    async with svc.uow() as uow:
        await uow.organizations.add(other)
        await uow.memberships.add(builders.membership(other.id, gym.owner.user_id, role=Role.OWNER))
        await uow.commit()
    with pytest.raises(NotFound):
        await get_export_job(svc, gym.owner, other.id, job.id)
    with pytest.raises(NotFound):
        await get_export_job(svc, gym.owner, gym.org_id, "no-such-job")


def _with(svc: Services, **changes: object) -> Services:
    return attrs.evolve(svc, **changes)  # type: ignore[arg-type]
