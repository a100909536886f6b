"""The Exports rows of the QA plan (spec/exports-imports-qa-plan.txt), one test per row.

Each test runs the real app under uvicorn on 127.0.0.1 and talks to it with httpx over the
socket. Behind it: Postgres, moto's S3 server and an aiosmtpd SMTP server, all over real
sockets; an export goes request → outbox → relay → embedded worker → S3 → SMTP.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from exports_live import (
    DASHED_PHONE,
    FORMULA_NAME,
    DemoGym,
    LiveApp,
    LiveAppFactory,
    MotoS3,
    Person,
    PlugPuller,
    Seeder,
    SmtpSink,
    bearer,
    link_in,
    mail_text,
    parse_csv,
    presign_window,
    terminate_app_connections,
    wait_for_job,
    wait_until,
)
from structlog.testing import capture_logs

from fitdata_adapters.bootstrap import derive_key
from fitdata_adapters.clock import ManualClock
from fitdata_adapters.ratelimit.redis import RedisRateLimiter
from fitdata_adapters.settings import Settings
from fitdata_adapters.storage.local import LocalFolderStorage
from fitdata_adapters.storage.s3 import MIN_PART_SIZE, S3Storage
from fitdata_core.model.jobs import ExportStatus
from fitdata_core.ports.infrastructure import ObjectStorage
from fitdata_core.usecases.exports.members import MESSAGE_DATABASE, MESSAGE_STORAGE

pytestmark = pytest.mark.integration

HEADER_OF = {"email": "Email", "firstName": "First name", "role": "Role", "status": "Status"}
ONE_HOUR = timedelta(hours=1)


async def _request(
    http: httpx.AsyncClient, app: LiveApp, gym: DemoGym, user: str, body: dict[str, Any]
) -> httpx.Response:
    return await http.post(
        f"{app.base_url}{gym.base}/export/members", json=body, headers=bearer(user)
    )


async def _export(
    http: httpx.AsyncClient, app: LiveApp, gym: DemoGym, body: dict[str, Any]
) -> tuple[dict[str, Any], list[list[str]]]:
    """Request an export as the owner, wait for it, download it through the API's link."""
    response = await _request(http, app, gym, gym.owner, body)
    assert response.status_code == 202, response.text
    job_id = response.json()["data"]["jobId"]
    job = await wait_for_job(http, app.base_url + gym.base, job_id, bearer(gym.owner))
    assert job["status"] == "completed", job
    download = await http.get(job["downloadUrl"])
    assert download.status_code == 200
    return job, parse_csv(download.content)


def _column(rows: list[list[str]], header: str) -> list[str]:
    index = rows[0].index(header)
    return [row[index] for row in rows[1:]]


# --- Exports — auth & rate ---------------------------------------------------------------------


async def test_member_calls_post_export_members_gets_403_only_owners_and_admins_can_export(
    live_app: LiveAppFactory, demo_gym: DemoGym, http: httpx.AsyncClient
) -> None:
    app = live_app()

    response = await _request(http, app, demo_gym, demo_gym.member, {})

    assert response.status_code == 403
    assert response.json()["detail"] == "Only owners and admins can export data."
    jobs = await http.get(
        f"{app.base_url}{demo_gym.base}/export/jobs", headers=bearer(demo_gym.member)
    )
    assert jobs.status_code == 403


async def test_owner_calls_with_empty_filters_job_enqueued_csv_contains_every_member(
    live_app: LiveAppFactory, demo_gym: DemoGym, seeder: Seeder, http: httpx.AsyncClient
) -> None:
    app = live_app()

    job, rows = await _export(http, app, demo_gym, {})

    everyone = seeder.emails(demo_gym.org_id)
    assert sorted(_column(rows, "Email")) == everyone
    assert job["rowCount"] == len(everyone) == len(rows) - 1
    assert {"owner", "admin", "coach", "member"} <= set(_column(rows, "Role"))


async def test_11_export_requests_in_60_seconds_from_one_ip_11th_returns_429(
    live_app: LiveAppFactory,
    demo_gym: DemoGym,
    http: httpx.AsyncClient,
    redis_url: str,
    redis_key_prefix: str,
) -> None:
    # The limiter every API process shares in production: Redis.
    app = live_app(
        overrides=lambda _: {"rate_limiter": RedisRateLimiter(redis_url, prefix=redis_key_prefix)}
    )
    jobs_url = f"{app.base_url}{demo_gym.base}/export/jobs?limit=100"
    before = (await http.get(jobs_url, headers=bearer(demo_gym.owner))).json()["meta"]["total"]

    statuses = [
        (await _request(http, app, demo_gym, demo_gym.owner, {"fields": ["email"]})).status_code
        for _ in range(10)
    ]
    eleventh = await _request(http, app, demo_gym, demo_gym.owner, {"fields": ["email"]})

    assert statuses == [202] * 10
    assert eleventh.status_code == 429
    assert 1 <= int(eleventh.headers["Retry-After"]) <= 60
    assert eleventh.json()["code"] == "RATE_LIMITED"
    after = (await http.get(jobs_url, headers=bearer(demo_gym.owner))).json()["meta"]["total"]
    assert after - before == 10  # the refused request queued nothing


# --- Exports — content -------------------------------------------------------------------------


async def test_filter_roles_coach_csv_contains_only_coach_rows(
    live_app: LiveAppFactory, demo_gym: DemoGym, seeder: Seeder, http: httpx.AsyncClient
) -> None:
    app = live_app()

    _, rows = await _export(http, app, demo_gym, {"roles": ["coach"]})

    coaches = seeder.emails(demo_gym.org_id, roles=["coach"])
    assert coaches  # the demo has coaches, so the filter is really tested
    assert set(_column(rows, "Role")) == {"coach"}
    assert sorted(_column(rows, "Email")) == coaches


async def test_filter_statuses_active_and_invited_csv_contains_only_those_statuses(
    live_app: LiveAppFactory, demo_gym: DemoGym, seeder: Seeder, http: httpx.AsyncClient
) -> None:
    app = live_app()

    _, rows = await _export(http, app, demo_gym, {"statuses": ["active", "invited"]})

    assert set(_column(rows, "Status")) == {"active", "invited"}
    expected = seeder.emails(demo_gym.org_id, statuses=["active", "invited"])
    assert sorted(_column(rows, "Email")) == expected
    assert len(expected) < len(seeder.emails(demo_gym.org_id))  # someone was left out


async def test_filter_fields_email_first_name_csv_has_those_two_columns_only_in_order(
    live_app: LiveAppFactory, demo_gym: DemoGym, seeder: Seeder, http: httpx.AsyncClient
) -> None:
    app = live_app()

    job, rows = await _export(http, app, demo_gym, {"fields": ["email", "firstName"]})

    assert rows[0] == ["Email", "First name"]
    assert all(len(row) == 2 for row in rows)
    assert sorted(row[0] for row in rows[1:]) == seeder.emails(demo_gym.org_id)
    assert job["config"]["fields"] == ["email", "firstName"]


async def test_csv_opened_in_excel_with_hebrew_names_renders_correctly_utf8_bom_present(
    live_app: LiveAppFactory, demo_gym: DemoGym, smtp: SmtpSink, http: httpx.AsyncClient
) -> None:
    app = live_app()
    response = await _request(http, app, demo_gym, demo_gym.owner, {})
    job_id = response.json()["data"]["jobId"]
    job = await wait_for_job(http, app.base_url + demo_gym.base, job_id, bearer(demo_gym.owner))
    await wait_until(lambda: any(job_id in mail_text(m) for m in smtp.received))
    mail = next(m for m in smtp.received if job_id in mail_text(m))

    # Both ways a person gets the file: the link in the email, and the API's fresh link.
    by_mail = (await http.get(link_in(mail_text(mail)))).content
    by_api = (await http.get(job["downloadUrl"])).content

    assert by_mail == by_api
    assert by_mail.startswith(b"\xef\xbb\xbf")  # the UTF-8 BOM Excel needs
    rows = parse_csv(by_mail)
    names = {(row[0], row[1]) for row in rows[1:]}
    assert ("יעל", "כץ") in names  # the demo owner, exactly as stored
    assert ("דוד", "בן-חיים") in names
    assert sum(any("\u0590" <= ch <= "\u05ff" for ch in row[0]) for row in rows[1:]) > 10


async def test_job_completes_email_lands_with_presigned_download_url_valid_about_1h(
    live_app: LiveAppFactory, demo_gym: DemoGym, smtp: SmtpSink, http: httpx.AsyncClient
) -> None:
    app = live_app()
    response = await _request(http, app, demo_gym, demo_gym.owner, {"fields": ["email"]})
    job_id = response.json()["data"]["jobId"]
    job = await wait_for_job(http, app.base_url + demo_gym.base, job_id, bearer(demo_gym.owner))
    await wait_until(lambda: any(job_id in mail_text(m) for m in smtp.received))
    mail = next(m for m in smtp.received if job_id in mail_text(m))

    url = link_in(mail_text(mail))
    signed_at, lifetime = presign_window(url)
    download = await http.get(url)

    assert mail["To"] == demo_gym.owner_email
    assert mail["Subject"] == "Your export is ready"
    assert url.startswith(app.settings.s3_endpoint_url or "?")
    assert f"exports/{demo_gym.org_id}/{job_id}.csv" in url
    assert lifetime == ONE_HOUR
    assert abs(datetime.now(UTC) - signed_at) < timedelta(minutes=2)
    assert download.status_code == 200
    assert "members-export-" in download.headers["content-disposition"]
    assert len(download.content) == job["fileSize"]
    assert len(parse_csv(download.content)) - 1 == job["rowCount"]


async def test_job_3h_after_completion_get_job_returns_fresh_presigned_download_url(
    live_app: LiveAppFactory, demo_gym: DemoGym, smtp: SmtpSink, http: httpx.AsyncClient
) -> None:
    clock = ManualClock(datetime.now(UTC))
    app = live_app(overrides=lambda _: {"clock": clock})
    response = await _request(http, app, demo_gym, demo_gym.owner, {"fields": ["email"]})
    job_id = response.json()["data"]["jobId"]
    await wait_for_job(http, app.base_url + demo_gym.base, job_id, bearer(demo_gym.owner))
    await wait_until(lambda: any(job_id in mail_text(m) for m in smtp.received))
    emailed = link_in(mail_text(next(m for m in smtp.received if job_id in mail_text(m))))

    clock.advance(timedelta(hours=3))
    # moto cannot travel in time and S3 signs with the wall clock to the second: let one
    # second pass so a fresh signature is distinguishable from the emailed one.
    await asyncio.sleep(1.1)
    later = await http.get(
        f"{app.base_url}{demo_gym.base}/export/jobs/{job_id}", headers=bearer(demo_gym.owner)
    )

    job = later.json()["data"]
    fresh = job["downloadUrl"]
    assert job["status"] == "completed"
    assert fresh != emailed  # minted for this request, not stored
    signed_at, lifetime = presign_window(fresh)
    assert lifetime == ONE_HOUR
    assert signed_at > presign_window(emailed)[0]
    assert (await http.get(fresh)).content == (await http.get(emailed)).content


async def test_job_3h_after_completion_local_folder_link_expired_and_fresh_link_works(
    live_app: LiveAppFactory, demo_gym: DemoGym, smtp: SmtpSink, http: httpx.AsyncClient
) -> None:
    """The same row on the embedded storage, where the clock also decides link expiry."""
    clock = ManualClock(datetime.now(UTC))

    def overrides(settings: Settings) -> dict[str, Any]:
        storage = LocalFolderStorage(
            settings.data_dir / "storage",
            public_url=settings.public_url,
            signing_key=derive_key(settings.jwt_secret, "local-storage-links"),
            clock=clock,
        )
        return {"clock": clock, "storage": storage}

    app = live_app(overrides=overrides)
    base = app.base_url + demo_gym.base
    response = await _request(http, app, demo_gym, demo_gym.owner, {"fields": ["email"]})
    job_id = response.json()["data"]["jobId"]
    await wait_for_job(http, base, job_id, bearer(demo_gym.owner))
    await wait_until(lambda: any(job_id in mail_text(m) for m in smtp.received))
    emailed = link_in(mail_text(next(m for m in smtp.received if job_id in mail_text(m))))
    assert emailed.startswith(f"{app.base_url}/files/")
    assert (await http.get(emailed)).status_code == 200

    clock.advance(timedelta(hours=3))
    expired = await http.get(emailed)
    fresh = await http.get(f"{base}/export/jobs/{job_id}", headers=bearer(demo_gym.owner))
    fresh_url = fresh.json()["data"]["downloadUrl"]
    fresh_download = await http.get(fresh_url)

    assert expired.status_code == 403
    assert fresh_url != emailed
    assert fresh_download.status_code == 200
    assert fresh_download.content.startswith(b"\xef\xbb\xbf")
    clock.advance(timedelta(minutes=61))  # the fresh link lasts an hour too
    assert (await http.get(fresh_url)).status_code == 403


# --- Exports — failure -------------------------------------------------------------------------


def _owner_gym(seeder: Seeder, members: int, *, notes: str | None = None) -> DemoGym:
    """An org of its own (so the demo gym stays as it is) with an owner and ``members``."""
    org_id = seeder.organization("Outage Gym")
    owner = Person(f"owner-{org_id[:8]}@outage.example", "Owner", "Gym", None, "owner", "active")
    domain = f"{org_id[:8]}.outage.example"
    people = [owner] + [
        Person(f"m{i:06d}@{domain}", "שם", f"Member {i}", None, "member", "active")
        for i in range(members)
    ]
    ids = seeder.people(org_id, people, notes=notes)
    owner_id = ids[owner.email]
    return DemoGym(org_id, owner_id, owner_id, owner_id, owner_id, owner.email)


async def test_force_db_outage_mid_processor_job_lands_failed_with_error_message(
    live_app: LiveAppFactory,
    seeder: Seeder,
    http: httpx.AsyncClient,
    moto: MotoS3,
    postgres_server_url: str,
    exports_db_url: str,
) -> None:
    gym = _owner_gym(seeder, 10_000)  # ~1.2 MB of rows: the outage lands mid-stream
    database = sa.make_url(exports_db_url).database
    assert database is not None
    pullers: list[PlugPuller] = []

    def wrap(storage: ObjectStorage) -> ObjectStorage:
        # Once 64 KiB of rows are out, every connection of the app is terminated.
        pull = terminate_app_connections(postgres_server_url, database)
        pullers.append(PlugPuller(storage, pull, after_bytes=2**16))
        return pullers[0]

    app = live_app(wrap_storage=wrap)
    response = await _request(http, app, gym, gym.owner, {})
    job = await wait_for_job(
        http, app.base_url + gym.base, response.json()["data"]["jobId"], bearer(gym.owner)
    )

    assert pullers[0].pulled.is_set()
    assert job["status"] == "failed"
    assert job["errorMessage"] == MESSAGE_DATABASE
    assert job["downloadUrl"] is None
    assert job["rowCount"] is None
    bucket = app.settings.s3_bucket
    assert bucket is not None
    assert moto.keys(bucket, "exports/") == []


async def test_force_r2_upload_failure_job_lands_failed_and_no_partial_object(
    live_app: LiveAppFactory, seeder: Seeder, http: httpx.AsyncClient, moto: MotoS3
) -> None:
    # ~7 MB of CSV in 5 MiB parts: the first part is uploaded, then the S3 server goes away.
    gym = _owner_gym(seeder, 6000, notes="הערה " * 200)
    doomed = MotoS3.start()
    pullers: list[PlugPuller] = []

    def wrap(storage: ObjectStorage) -> ObjectStorage:
        pullers.append(PlugPuller(storage, doomed.stop, after_bytes=MIN_PART_SIZE + 2**19))
        return pullers[0]

    app = live_app(s3=doomed, overrides=_small_parts, wrap_storage=wrap)
    response = await _request(
        http, app, gym, gym.owner, {"fields": ["email", "firstName", "lastName", "notes"]}
    )
    job = await wait_for_job(
        http, app.base_url + gym.base, response.json()["data"]["jobId"], bearer(gym.owner)
    )

    assert pullers[0].pulled.is_set()
    assert job["status"] == "failed"
    assert job["errorMessage"] == MESSAGE_STORAGE
    assert job["downloadUrl"] is None
    # moto keeps its state in this process: the session's server sees the same bucket.
    bucket = app.settings.s3_bucket
    assert bucket is not None
    assert moto.keys(bucket, "exports/") == []


def _small_parts(settings: Settings) -> dict[str, Any]:
    """S3 storage with the smallest part size, one attempt and a short connect timeout."""
    assert settings.s3_bucket is not None
    storage = S3Storage(
        bucket=settings.s3_bucket,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=settings.s3_secret_access_key,
        part_size=MIN_PART_SIZE,
        max_attempts=1,
        connect_timeout=1,
    )
    return {"storage": storage}


async def test_email_send_fails_job_completed_warning_logged_download_served_via_api(
    live_app: LiveAppFactory, demo_gym: DemoGym, smtp: SmtpSink, http: httpx.AsyncClient
) -> None:
    smtp.refuse("550 5.7.1 Mailbox unavailable")
    app = live_app()

    with capture_logs() as logs:
        response = await _request(http, app, demo_gym, demo_gym.owner, {"fields": ["email"]})
        job = await wait_for_job(
            http,
            app.base_url + demo_gym.base,
            response.json()["data"]["jobId"],
            bearer(demo_gym.owner),
        )
        await wait_until(lambda: any("sendExportEmail" in e["event"] for e in logs))

    warning = next(e for e in logs if "sendExportEmail" in e["event"])
    assert job["status"] == ExportStatus.COMPLETED.value
    assert warning["log_level"] == "warning"
    assert warning["job_id"] == job["id"]
    assert smtp.received == [] or all(job["id"] not in mail_text(m) for m in smtp.received)
    download = await http.get(job["downloadUrl"])
    assert download.status_code == 200
    assert len(parse_csv(download.content)) - 1 == job["rowCount"]


# --- CSV injection -----------------------------------------------------------------------------


async def test_csv_injection_formula_name_neutralised_and_dashed_phone_untouched(
    live_app: LiveAppFactory, demo_gym: DemoGym, http: httpx.AsyncClient
) -> None:
    app = live_app()

    _, rows = await _export(http, app, demo_gym, {"fields": ["email", "firstName", "phone"]})

    by_email = {row[0]: row for row in rows[1:]}
    assert by_email["formula@demo-gym.example"][1] == "'" + FORMULA_NAME
    assert by_email["dashes@demo-gym.example"][2] == DASHED_PHONE
    # No cell of the file can start a formula, whatever the demo data holds.
    for row in rows[1:]:
        for cell in row:
            assert cell[:1] not in {"=", "@"}, cell


# --- Status polling ------------------------------------------------------------------------------


async def test_export_jobs_are_listed_newest_first_and_another_orgs_job_is_404(
    live_app: LiveAppFactory, demo_gym: DemoGym, seeder: Seeder, http: httpx.AsyncClient
) -> None:
    app = live_app()
    ids = [
        (await _request(http, app, demo_gym, demo_gym.owner, {"fields": ["email"]})).json()["data"][
            "jobId"
        ]
        for _ in range(2)
    ]
    other = _owner_gym(seeder, 1)

    listing = await http.get(
        f"{app.base_url}{demo_gym.base}/export/jobs?limit=2", headers=bearer(demo_gym.owner)
    )
    foreign = await http.get(
        f"{app.base_url}{other.base}/export/jobs/{ids[0]}", headers=bearer(other.owner)
    )

    assert listing.status_code == 200
    assert [job["id"] for job in listing.json()["data"]] == ids[::-1]
    assert listing.json()["meta"]["limit"] == 2
    assert foreign.status_code == 404


async def test_unknown_filter_values_are_400_naming_the_value_and_the_allowed_ones(
    live_app: LiveAppFactory, demo_gym: DemoGym, http: httpx.AsyncClient
) -> None:
    app = live_app()

    bad_role = await _request(http, app, demo_gym, demo_gym.owner, {"roles": ["janitor"]})
    bad_field = await _request(http, app, demo_gym, demo_gym.owner, {"fields": ["password"]})
    not_a_list = await _request(http, app, demo_gym, demo_gym.owner, {"statuses": "active"})

    assert bad_role.status_code == 400
    assert bad_role.json()["field"] == "roles"
    assert "'janitor'" in bad_role.json()["detail"]
    assert "owner, admin, coach, member" in bad_role.json()["detail"]
    assert bad_field.status_code == 400
    assert bad_field.json()["field"] == "fields"
    assert "firstName" in bad_field.json()["detail"]
    assert not_a_list.status_code == 400
    assert not_a_list.json()["field"] == "statuses"
