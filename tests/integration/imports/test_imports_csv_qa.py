"""The CSV QA rows (the spec's "Imports — CSV") and the parsing cases of CSV and Excel
imports: over HTTP, on Postgres, each file built by its test.

Each test bootstraps an embedded runtime on Postgres (the uploaded files go to its local
storage folder); confirmed jobs run as a worker would (:func:`support.imports.drain`).
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl import Workbook

from fitdata_adapters.bootstrap import Runtime, bootstrap, import_policy
from fitdata_adapters.db import tables as t
from fitdata_adapters.memory import MemoryJobQueue
from fitdata_adapters.settings import Settings
from fitdata_adapters.tokens import issue_token
from fitdata_core.model.imports import MAX_REPORTED_ROW_ERRORS
from fitdata_core.model.organizations import Role
from fitdata_core.usecases.imports import run_import, sweep_import_files
from fitdata_core.usecases.organizations import NewMember, add_member, create_organization
from fitdata_http import create_app
from support.concurrency import Rendezvous, concurrent_client, pausing_app
from support.fakes import NoPayments
from support.imports import drain

pytestmark = pytest.mark.integration

Client = AsyncTestClient[Litestar]
JWT_SECRET = "integration-csv-qa-jwt-secret-long-enough-for-hs256"
MEMBERS_ONLY = {"members": True, "plans": False, "leads": False}
LIMIT = 5 * 1024 * 1024
HEADER = "Email,First name,Last name,Phone,Birthday\r\n"


def _bearer(user_id: str) -> dict[str, str]:
    jwt = issue_token(JWT_SECRET, user_id, now=datetime.now(UTC), ttl=timedelta(minutes=30))
    return {"Authorization": f"Bearer {jwt}"}


def rows_csv(count: int, *, start: int = 0, header: str = HEADER) -> str:
    body = "".join(
        f"m{i}@gym.example,First{i},Last{i},054123{i % 10000:04d},02/01/1990\r\n"
        for i in range(start, start + count)
    )
    return header + body


def sized_csv(size: int) -> bytes:
    """A valid member file of about ``size`` bytes."""
    line = len(rows_csv(1, start=100000).encode()) - len(HEADER)
    data = rows_csv(size // line, start=100000).encode()
    return data + b"x" * max(0, size - len(data)) if len(data) < size else data


@attrs.define
class World:
    runtime: Runtime
    client: Client
    org_id: str
    owner: dict[str, str]
    coach: dict[str, str]
    other_owner: dict[str, str]
    other_org_id: str

    @property
    def base(self) -> str:
        return f"/organizations/{self.org_id}/import"

    async def upload(
        self,
        data: bytes | str,
        name: str = "members.csv",
        *,
        query: str = "",
        headers: dict[str, str] | None = None,
        org_id: str | None = None,
    ) -> Any:
        raw = data.encode() if isinstance(data, str) else data
        base = f"/organizations/{org_id}/import" if org_id else self.base
        return await self.client.post(
            f"{base}/csv/upload{query}",
            files={"file": (name, raw, "application/octet-stream")},
            headers=headers or self.owner,
        )

    async def uploaded(self, data: bytes | str, name: str = "members.csv", **kw: Any) -> dict:
        response = await self.upload(data, name, **kw)
        assert response.status_code == 200, response.text
        return dict(response.json()["data"])

    async def confirm(
        self,
        job_id: str,
        mapping: dict[str, Any],
        entities: dict[str, bool] = MEMBERS_ONLY,
        **extra: Any,
    ) -> Any:
        return await self.client.post(
            f"{self.base}/csv/jobs/{job_id}/confirm",
            json={"columnMapping": mapping, "entities": entities, **extra},
            headers=self.owner,
        )

    async def job(self, job_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{self.base}/jobs/{job_id}", headers=self.owner)
        assert response.status_code == 200, response.text
        return dict(response.json()["data"])

    async def run(self, data: bytes | str, name: str = "members.csv", **confirm: Any) -> dict:
        """Upload, confirm the suggested mapping, run: the finished job."""
        answer = await self.uploaded(data, name)
        mapping = confirm.pop("mapping", answer["suggestedMapping"])
        response = await self.confirm(answer["jobId"], mapping, **confirm)
        assert response.status_code == 202, response.text
        await drain(self.runtime.services)
        return await self.job(answer["jobId"])

    async def members(self) -> dict[str, dict[str, Any]]:
        response = await self.client.get(
            f"/organizations/{self.org_id}/members?limit=100", headers=self.owner
        )
        assert response.status_code == 200, response.text
        return {row["email"]: row for row in response.json()["data"]}

    async def count(self, table: sa.Table) -> int:
        async with self.runtime.engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(table)
            return int((await conn.execute(query)).scalar_one())


@pytest.fixture
async def world(tmp_path: Path, clean_pg_url: str) -> AsyncIterator[World]:
    settings = Settings.from_env(
        {
            "FITDATA_MODE": "embedded",
            "FITDATA_DATA_DIR": str(tmp_path),
            "FITDATA_DATABASE_URL": clean_pg_url,
            "FITDATA_JWT_SECRET": JWT_SECRET,
            "FITDATA_IMPORT_RATE_LIMIT_PER_MINUTE": "1000",
        }
    )
    runtime = bootstrap(
        settings,
        payment_gateway=NoPayments(),
        queue=MemoryJobQueue(),
        imports=attrs.evolve(import_policy(settings), retry_delays=(0, 0)),
    )
    assert runtime.services.imports.max_upload_bytes == LIMIT  # the default cap
    svc = runtime.services
    org = await create_organization(svc, name="CSV QA Gym", owner_email="owner@csv-gym.io")
    other = await create_organization(svc, name="Other Gym", owner_email="owner@other-gym.io")
    coach = await add_member(
        svc, org_id=org.id, member=NewMember(email="coach@csv-gym.io", role=Role.COACH)
    )
    async with svc.uow() as uow:
        owner = await uow.users.get_by_email("owner@csv-gym.io")
        other_owner = await uow.users.get_by_email("owner@other-gym.io")
    assert owner is not None
    assert other_owner is not None
    try:
        async with AsyncTestClient(app=create_app(runtime)) as client:
            yield World(
                runtime,
                client,
                org.id,
                _bearer(owner.id),
                _bearer(coach.id),
                _bearer(other_owner.id),
                other.id,
            )
    finally:
        await runtime.aclose()


def stored_files(root: Path) -> list[int]:
    """The sizes of the uploads kept in the storage folder."""
    return [p.stat().st_size for p in root.rglob("source.csv")]


def _problem(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["detail"])


# --- the QA rows --------------------------------------------------------------------------


async def test_a_4_mb_csv_answers_its_preview_and_suggested_mapping(world: World) -> None:
    data = sized_csv(4 * 1024 * 1024)
    assert 4 * 1024 * 1024 - 200 <= len(data) <= LIMIT
    answer = await world.uploaded(data)
    assert answer["headers"] == ["Email", "First name", "Last name", "Phone", "Birthday"]
    assert answer["suggestedMapping"] == {
        "memberFields": {
            "Email": "email",
            "First name": "firstName",
            "Last name": "lastName",
            "Phone": "phone",
            "Birthday": "birthDate",
        },
        "planFields": {},
    }
    assert answer["totalRows"] == data.count(b"\r\n") - 1
    assert len(answer["previewRows"]) == 5
    assert answer["previewRows"][0]["email"] == "m100000@gym.example"
    assert answer["previewRows"][0]["birthDate"] == "1990-01-02"
    assert answer["detected"] == {
        "encoding": "utf-8",
        "delimiter": ",",
        "dateOrder": "dd/mm",
        "sheet": None,
    }
    job = await world.job(answer["jobId"])
    assert (job["status"], job["source"]) == ("pending", "csv")
    # Kept in object storage (the local folder when embedded), not in the database.
    assert stored_files(world.runtime.settings.data_dir) == [len(data)]
    assert "previewRows" not in job["config"]
    assert len(str(job["config"])) < 5000


async def test_a_6_mb_csv_is_too_large_and_names_the_limit(world: World) -> None:
    response = await world.upload(sized_csv(6 * 1024 * 1024))
    detail = _problem(response, 400)
    assert detail.startswith("File too large")
    assert "5 MB (5242880 bytes)" in detail
    assert response.json()["field"] == "file"
    assert await world.count(t.import_jobs) == 0
    assert stored_files(world.runtime.settings.data_dir) == []


async def test_the_cap_stops_reading_a_streamed_body_before_its_end(world: World) -> None:
    """Chunks sent after the cap are never read: the 400 comes while the body streams in."""
    sent = 0
    chunk = b"a@b.co,x\r\n" * 6554  # about 64 KiB
    total_chunks = (8 * 1024 * 1024) // len(chunk)

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
        yield b"email,name\r\n"
        for _ in range(total_chunks):
            sent += 1
            yield chunk
        yield b"\r\n--XyZ--\r\n"

    transport = httpx.ASGITransport(app=world.client.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            f"{world.base}/csv/upload",
            content=body(),
            headers={**world.owner, "Content-Type": "multipart/form-data; boundary=XyZ"},
        )
    assert "File too large" in _problem(response, 400)
    # Read up to the cap (and a chunk or two in flight); the rest was never asked for.
    assert sent <= LIMIT // len(chunk) + 2 < total_chunks


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("notes.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 64, "not a CSV text file"),
        ("members.xlsx", b"email\r\na@b.co\r\n", "not an Excel workbook"),
        ("notes.csv", bytes(range(256)) * 64, "not"),
    ],
    ids=["png-renamed-csv", "text-renamed-xlsx", "binary-renamed-csv"],
)
async def test_a_file_that_is_not_csv_text_is_refused_whatever_its_name(
    world: World, name: str, data: bytes, reason: str
) -> None:
    detail = _problem(await world.upload(data, name), 400)
    assert reason in detail
    assert await world.count(t.import_jobs) == 0


async def test_a_text_file_renamed_csv_without_rows_is_refused(world: World) -> None:
    detail = _problem(await world.upload("Just one line of notes.\n", "notes.csv"), 400)
    assert detail == "The file has a header row but no data rows."


async def test_confirming_a_job_before_any_upload_is_404(world: World) -> None:
    unknown = "0b6c9f4e-1111-4222-8333-944455556666"
    response = await world.confirm(unknown, {"memberFields": {"Email": "email"}})
    assert f"CSV import job {unknown} not found." == _problem(response, 404)


async def test_confirm_with_a_valid_mapping_runs_in_progress_then_completed(world: World) -> None:
    answer = await world.uploaded(rows_csv(5))
    response = await world.confirm(answer["jobId"], answer["suggestedMapping"])
    assert response.status_code == 202, response.text
    assert response.json()["data"] == {"jobId": answer["jobId"]}
    # One slice of one batch: the job is running, members staged and partly applied.
    svc = world.runtime.services
    one_batch = attrs.evolve(svc, imports=attrs.evolve(svc.imports, slice_batches=1, batch_size=2))
    await run_import(one_batch, answer["jobId"])
    assert (await world.job(answer["jobId"]))["status"] == "in_progress"
    await drain(svc)
    job = await world.job(answer["jobId"])
    assert job["status"] == "completed", job
    assert job["results"]["members"] == {
        "created": 5,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
    }
    members = await world.members()
    assert members["m3@gym.example"]["firstName"] == "First3"


async def test_confirming_twice_is_409(world: World) -> None:
    answer = await world.uploaded(rows_csv(3))
    first = await world.confirm(answer["jobId"], answer["suggestedMapping"])
    assert first.status_code == 202, first.text
    detail = _problem(await world.confirm(answer["jobId"], answer["suggestedMapping"]), 409)
    assert "is confirmed already" in detail


async def test_confirming_a_job_already_in_progress_is_409(world: World) -> None:
    answer = await world.uploaded(rows_csv(6))
    assert (await world.confirm(answer["jobId"], answer["suggestedMapping"])).status_code == 202
    svc = world.runtime.services
    slow = attrs.evolve(svc, imports=attrs.evolve(svc.imports, slice_batches=1, batch_size=2))
    await run_import(slow, answer["jobId"])
    assert (await world.job(answer["jobId"]))["status"] == "in_progress"
    detail = _problem(await world.confirm(answer["jobId"], answer["suggestedMapping"]), 409)
    assert "is confirmed already" in detail
    # ... and no new upload either while it runs.
    upload = await world.upload(rows_csv(2))
    assert _problem(upload, 409) == "Active import already exists"
    await drain(svc)
    assert (await world.job(answer["jobId"]))["status"] == "completed"


async def test_an_upload_never_confirmed_is_cancelled_by_the_next_upload(world: World) -> None:
    first = await world.uploaded(rows_csv(2))
    second = await world.uploaded(rows_csv(3))
    assert (await world.job(first["jobId"]))["status"] == "cancelled"
    assert (await world.job(second["jobId"]))["status"] == "pending"
    # The replaced upload's file is gone from storage; the new one is kept.
    assert stored_files(world.runtime.settings.data_dir) == [len(rows_csv(3))]
    detail = _problem(await world.confirm(first["jobId"], first["suggestedMapping"]), 409)
    assert "is cancelled" in detail


# --- who may call, and bad input ----------------------------------------------------------


async def test_a_coach_may_not_upload_and_another_org_cannot_see_the_job(world: World) -> None:
    response = await world.upload(rows_csv(1), headers=world.coach)
    assert _problem(response, 403) == "Only owners and admins can import data."
    answer = await world.uploaded(rows_csv(1))
    other = await world.client.post(
        f"/organizations/{world.other_org_id}/import/csv/jobs/{answer['jobId']}/confirm",
        json={"columnMapping": answer["suggestedMapping"], "entities": MEMBERS_ONLY},
        headers=world.other_owner,
    )
    assert _problem(other, 404) == f"CSV import job {answer['jobId']} not found."
    rejects = await world.client.get(
        f"/organizations/{world.other_org_id}/import/jobs/{answer['jobId']}/rejects",
        headers=world.other_owner,
    )
    assert _problem(rejects, 404) == f"Import job {answer['jobId']} not found."


@pytest.mark.parametrize(
    ("mapping", "entities", "message"),
    [
        (
            {"memberFields": {"Emial": "email"}},
            MEMBERS_ONLY,
            "memberFields: the file has no column 'Emial'",
        ),
        (
            {"memberFields": {"Email": "email", "Phone": "fax"}},
            MEMBERS_ONLY,
            "memberFields: unknown field 'fax' for column 'Phone'",
        ),
        (
            {"memberFields": {"First name": "firstName"}},
            MEMBERS_ONLY,
            "members need an email column: map one column to 'email'",
        ),
        (
            {"memberFields": {"Email": "email"}},
            {"members": False, "plans": False, "leads": False},
            "entities must ask for members, plans or leads.",
        ),
    ],
    ids=["unknown-header", "unknown-field", "email-unmapped", "no-entities"],
)
async def test_a_bad_mapping_is_400_naming_what_to_fix(
    world: World, mapping: dict[str, Any], entities: dict[str, bool], message: str
) -> None:
    answer = await world.uploaded(rows_csv(2))
    detail = _problem(await world.confirm(answer["jobId"], mapping, entities), 400)
    assert message in detail
    assert (await world.job(answer["jobId"]))["status"] == "pending"  # still confirmable


async def test_an_upload_without_a_file_field_is_400(world: World) -> None:
    response = await world.client.post(
        f"{world.base}/csv/upload",
        files={"document": ("members.csv", b"email\r\na@b.co\r\n", "text/csv")},
        headers=world.owner,
    )
    detail = _problem(response, 400)
    assert detail == "No file in the request: send it as the multipart form field 'file'."
    plain = await world.client.post(
        f"{world.base}/csv/upload", content=b"email\na@b.co\n", headers=world.owner
    )
    assert "multipart/form-data" in _problem(plain, 400)


async def test_a_malformed_multipart_body_is_400_not_a_server_error(world: World) -> None:
    # A part whose header line is no "Name: value" (what a JSON value sent as the form body
    # looks like to the parser).
    body = b'--XyZ\r\n[[], ["x", true], {}]--XyZ--\r\n'
    response = await world.client.post(
        f"{world.base}/csv/upload",
        content=body,
        headers={**world.owner, "Content-Type": "multipart/form-data; boundary=XyZ"},
    )

    detail = _problem(response, 400)
    assert detail.startswith("The multipart body is malformed")
    assert (response.json()["code"], response.json()["field"]) == ("MALFORMED_BODY", "body")
    assert await world.count(t.import_jobs) == 0


# --- parsing a real gym's files -----------------------------------------------------------


async def test_a_windows_1255_hebrew_file_imports_with_hebrew_names(world: World) -> None:
    text = (
        "אימייל,שם פרטי,שם משפחה,טלפון,תאריך לידה\r\n"
        "dana@gym.example,דנה,כהן,054-1234567,25/12/1990\r\n"
        "yossi@gym.example,יוסי,לוי,052-7654321,03/04/1985\r\n"
    )
    answer = await world.uploaded(text.encode("cp1255"))
    assert answer["detected"]["encoding"] == "windows-1255"
    assert answer["suggestedMapping"]["memberFields"] == {
        "אימייל": "email",
        "שם פרטי": "firstName",
        "שם משפחה": "lastName",
        "טלפון": "phone",
        "תאריך לידה": "birthDate",
    }
    assert (await world.confirm(answer["jobId"], answer["suggestedMapping"])).status_code == 202
    await drain(world.runtime.services)
    members = await world.members()
    assert (members["dana@gym.example"]["firstName"], members["dana@gym.example"]["lastName"]) == (
        "דנה",
        "כהן",
    )
    assert members["dana@gym.example"]["phone"] == "+972541234567"


async def test_a_utf16_file_is_read(world: World) -> None:
    data = codecs.BOM_UTF16_LE + rows_csv(3).encode("utf-16-le")
    answer = await world.uploaded(data)
    assert answer["detected"]["encoding"].startswith("utf-16")
    assert answer["totalRows"] == 3
    assert answer["previewRows"][2]["email"] == "m2@gym.example"


async def test_semicolons_and_a_quoted_newline(world: World) -> None:
    text = (
        "Email;First name;Notes\r\n"
        'a@gym.example;Avi;"first line\r\nsecond line"\r\n'
        "b@gym.example;Bat;plain\r\n"
    )
    answer = await world.uploaded(text)
    assert answer["detected"]["delimiter"] == ";"
    assert answer["totalRows"] == 2
    assert answer["previewRows"][0]["notes"] == "first line\r\nsecond line"
    assert answer["previewRows"][1] == {
        "email": "b@gym.example",
        "firstName": "Bat",
        "notes": "plain",
    }


async def test_excel_leading_zero_phones_are_restored(world: World) -> None:
    text = "Email,Phone\r\na@gym.example,541234567\r\nb@gym.example,0527654321\r\n"
    job = await world.run(text)
    assert job["status"] == "completed"
    members = await world.members()
    assert members["a@gym.example"]["phone"] == "+972541234567"
    assert members["b@gym.example"]["phone"] == "+972527654321"
    # The fix is counted as a warning, naming the row and column.
    assert job["warningCount"] == 1
    assert job["errors"] == [
        {
            "entity": "members",
            "severity": "warning",
            "sourceId": "row 2",
            "email": "a@gym.example",
            "field": "Phone",
            "reason": "Phone: restored the leading zero Excel dropped.",
        }
    ]


async def test_dd_mm_dates_are_read_day_first(world: World) -> None:
    text = "Email,Birthday\r\na@gym.example,25/12/1990\r\nb@gym.example,03/04/1985\r\n"
    answer = await world.uploaded(text)
    assert answer["detected"]["dateOrder"] == "dd/mm"
    assert [r["birthDate"] for r in answer["previewRows"]] == ["1990-12-25", "1985-04-03"]
    ambiguous = "Email,Birthday\r\na@gym.example,03/04/1985\r\n"
    again = await world.uploaded(ambiguous)
    assert any("every date could be day or month first" in w for w in again["warnings"])


async def test_an_xlsx_first_sheet_or_a_named_one(world: World) -> None:
    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "Summary"
    first.append(["Email", "First name"])
    first.append(["s@gym.example", "Sum"])
    members = book.create_sheet("Members")
    members.append(["Email", "First name", "Phone"])
    members.append(["x@gym.example", "Xena", 541234567])
    members.append(["y@gym.example", "Yael", 527654321])
    out = io.BytesIO()
    book.save(out)
    data = out.getvalue()
    default = await world.uploaded(data, "gym.xlsx")
    assert default["detected"]["sheet"] == "Summary"
    assert default["totalRows"] == 1
    named = await world.uploaded(data, "gym.xlsx", query="?sheet=Members")
    assert named["detected"]["sheet"] == "Members"
    assert named["totalRows"] == 2
    response = await world.confirm(named["jobId"], named["suggestedMapping"])
    assert response.status_code == 202, response.text
    await drain(world.runtime.services)
    assert (await world.members())["x@gym.example"]["phone"] == "+972541234567"
    missing = await world.upload(data, "gym.xlsx", query="?sheet=Nope")
    assert "Nope" in _problem(missing, 400)


# --- rejects, retry, dry run, remembered mappings -------------------------------------------


async def test_rejects_list_every_failed_row_beyond_the_errors_cap(world: World) -> None:
    bad = MAX_REPORTED_ROW_ERRORS + 200
    lines = [HEADER.strip()]
    lines += [f"ok{i}@gym.example,Ok,{i},0541234567,01/02/1990" for i in range(20)]
    lines += [f"not-an-email-{i},Bad,{i},0541234567,01/02/1990" for i in range(bad)]
    lines += ["date@gym.example,Bad,Date,0541234567,31/31/1990", ",No,Email,,"]
    job = await world.run("\r\n".join(lines) + "\r\n")
    assert job["status"] == "completed"
    assert job["results"]["members"]["created"] == 20
    assert job["results"]["members"]["failed"] == bad + 2
    assert len(job["errors"]) == MAX_REPORTED_ROW_ERRORS  # the report is capped...
    response = await world.client.get(f"{world.base}/jobs/{job['id']}/rejects", headers=world.owner)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Email", "First name", "Last name", "Phone", "Birthday", "error"]
    assert len(rows) - 1 == bad + 2  # ...the rejects file is not
    assert rows[1][:2] == ["not-an-email-0", "Bad"]
    assert rows[1][5] == "Not a valid email address: 'not-an-email-0'."
    assert rows[-2][0] == "date@gym.example"
    assert rows[-2][5].startswith("Birthday: ")
    assert rows[-1][5] == "A member needs an email address."


async def test_rejects_of_an_upload_not_confirmed_is_409(world: World) -> None:
    answer = await world.uploaded(rows_csv(1))
    response = await world.client.get(
        f"{world.base}/jobs/{answer['jobId']}/rejects", headers=world.owner
    )
    assert "confirm its mapping first" in _problem(response, 409)


async def test_retry_failed_reruns_just_the_failed_rows_with_a_corrected_mapping(
    world: World,
) -> None:
    # The owner mapped "Work email" (often empty) as the email: those rows fail.
    text = (
        "Work email,Private email,First name\r\n"
        "w1@gym.example,p1@gym.example,One\r\n"
        ",p2@gym.example,Two\r\n"
        ",p3@gym.example,Three\r\n"
    )
    mapping = {"memberFields": {"Work email": "email", "First name": "firstName"}}
    job = await world.run(text, mapping=mapping)
    assert job["results"]["members"]["failed"] == 2
    fixed = {"memberFields": {"Private email": "email", "First name": "firstName"}}
    response = await world.client.post(
        f"{world.base}/jobs/{job['id']}/retry-failed",
        json={"columnMapping": fixed},
        headers=world.owner,
    )
    assert response.status_code == 202, response.text
    retry_id = response.json()["data"]["jobId"]
    await drain(world.runtime.services)
    retry = await world.job(retry_id)
    assert retry["status"] == "completed"
    assert retry["config"]["retryOf"] == job["id"]
    assert retry["results"]["members"]["created"] == 2  # rows 3 and 4 only, not row 2 again
    members = await world.members()
    assert {"w1@gym.example", "p2@gym.example", "p3@gym.example"} <= set(members)
    assert "p1@gym.example" not in members
    # Nothing failed the second time: nothing to retry.
    again = await world.client.post(
        f"{world.base}/jobs/{retry_id}/retry-failed", json={}, headers=world.owner
    )
    assert "failed no rows" in _problem(again, 409)


async def test_a_dry_run_writes_nothing(world: World) -> None:
    before = (await world.count(t.users), await world.count(t.memberships))
    job = await world.run(rows_csv(4), dryRun=True)
    assert job["status"] == "completed"
    assert job["dryRun"] is True
    assert job["results"]["members"]["created"] == 4
    assert (await world.count(t.users), await world.count(t.memberships)) == before


async def test_the_confirmed_mapping_is_suggested_for_the_next_file_with_those_headers(
    world: World,
) -> None:
    text = "Mail,Given,Family,Comment\r\na@gym.example,A,Aa,x\r\n"
    mine = {
        "memberFields": {"Mail": "email", "Given": "firstName", "Family": "lastName"},
        "planFields": {},
    }
    job = await world.run(text, mapping=mine)
    assert job["status"] == "completed"
    later = await world.uploaded("Mail,Given,Family,Comment\r\nb@gym.example,B,Bb,y\r\n")
    assert later["suggestedMapping"] == mine
    assert later["previewRows"] == [{"email": "b@gym.example", "firstName": "B", "lastName": "Bb"}]


# --- concurrency on Postgres ----------------------------------------------------------------


async def test_concurrent_uploads_leave_one_pending_job(world: World) -> None:
    """Four uploads at once, each held right after it looked for the org's active import
    until the others looked too: all find none, and the one-active-import-per-org index lets
    exactly one in (without it, every upload leaves its own pending job)."""
    rendezvous = Rendezvous(parties=4)
    app = pausing_app(world.runtime, rendezvous, repository="import_jobs", methods=["find_active"])
    async with concurrent_client(app) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"{world.base}/csv/upload",
                    files={"file": ("members.csv", rows_csv(3).encode(), "text/csv")},
                    headers=world.owner,
                )
                for _ in range(4)
            )
        )
    assert (rendezvous.arrived, rendezvous.timed_out) == (4, False)  # they met before inserting
    assert {r.status_code for r in responses} <= {200, 409}, [r.text for r in responses]
    answered = [r.json()["data"]["jobId"] for r in responses if r.status_code == 200]
    assert answered, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["detail"] == "Active import already exists"
    statuses = {job_id: (await world.job(job_id))["status"] for job_id in answered}
    async with world.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(t.import_jobs.c.id, t.import_jobs.c.status).where(
                    t.import_jobs.c.organization_id == world.org_id
                )
            )
        ).all()
    # Exactly one upload is left waiting for its confirmation, one the client was answered
    # with; every other answered upload was replaced (cancelled), and no job was made that
    # nobody was told about.
    pending = [str(row.id) for row in rows if row.status == "pending"]
    assert len(pending) == 1, rows
    assert pending[0] in answered
    assert sorted(str(row.id) for row in rows) == sorted(answered)
    assert sorted(statuses.values()) == ["cancelled"] * (len(answered) - 1) + ["pending"]
    # Only the pending upload's file is kept.
    assert stored_files(world.runtime.settings.data_dir) == [len(rows_csv(3))]


def _pausing_app(world: World, rendezvous: Rendezvous) -> Litestar:
    """The app over the world's runtime, each job read of a writing unit of work held at
    ``rendezvous`` (the read-only early checks, like an upload's, are not the race)."""
    return pausing_app(
        world.runtime,
        rendezvous,
        repository="import_jobs",
        methods=("get_for_update", "get", "find_active"),
    )


async def test_concurrent_confirms_queue_the_job_once(world: World) -> None:
    """Three confirms at once, each holding on after reading the job until the others read
    it too: exactly one 202, the others 409, one run, each row once. (Without the job's row
    lock all three read it pending and all three are 202.)"""
    answer = await world.uploaded(rows_csv(3))
    before = await world.count(t.memberships)
    svc = world.runtime.services
    rendezvous = Rendezvous(parties=3)
    async with concurrent_client(_pausing_app(world, rendezvous)) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"{world.base}/csv/jobs/{answer['jobId']}/confirm",
                    json={
                        "columnMapping": answer["suggestedMapping"],
                        "entities": MEMBERS_ONLY,
                    },
                    headers=world.owner,
                )
                for _ in range(3)
            )
        )
    assert rendezvous.arrived == 3  # every confirm read the job
    assert sorted(r.status_code for r in responses) == [202, 409, 409], [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert "is confirmed already" in response.json()["detail"]
    runs = await drain(svc)
    assert runs == 1
    assert await drain(svc) == 0  # nothing else was queued
    job = await world.job(answer["jobId"])
    assert job["status"] == "completed"
    assert job["results"]["members"]["created"] == 3
    assert await world.count(t.memberships) == before + 3
    assert await world.count(t.import_jobs) == 1


async def test_a_job_taken_over_elsewhere_rereads_the_file_without_duplicates(
    world: World,
) -> None:
    """The continuation runs where the first slice's open file is not (another process): it
    re-reads the stored file, skips the pages the checkpoint says were staged, and every row
    lands once."""
    from fitdata_core.usecases.imports import engine

    text = rows_csv(230) + "broken-email,X,Y,,\r\n"
    answer = await world.uploaded(text)
    assert (await world.confirm(answer["jobId"], answer["suggestedMapping"])).status_code == 202
    svc = world.runtime.services
    small = attrs.evolve(svc, imports=attrs.evolve(svc.imports, slice_batches=3, file_page_rows=50))
    await run_import(small, answer["jobId"], owner="first-worker")
    async with svc.uow() as uow:
        job = await uow.import_jobs.get(answer["jobId"])
    assert job is not None
    assert job.checkpoint["members.pages"] == 3  # three pages staged, the rest not read
    engine._OPEN_PAGES.clear()  # the first worker's process is gone
    # The service restarted with another page size meanwhile: the take-over still skips
    # exactly the 150 rows staged (it counts rows, not pages) and reads every other once.
    other = attrs.evolve(svc, imports=attrs.evolve(svc.imports, slice_batches=3, file_page_rows=70))
    while True:
        done = await run_import(other, answer["jobId"])
        if done is None or not done.is_active:
            break
    final = await world.job(answer["jobId"])
    assert final["status"] == "completed"
    assert final["results"]["members"] == {
        "created": 230,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
    }
    assert final["progress"]["members"] == {"processed": 231, "total": 231}
    async with world.runtime.engine.connect() as conn:
        query = sa.select(sa.func.count()).where(t.memberships.c.organization_id == world.org_id)
        memberships = (await conn.execute(query)).scalar_one()
    assert memberships == 230 + 2  # each row once, and the gym's owner and coach


async def test_plans_and_members_from_one_file(world: World) -> None:
    text = (
        "Email,Plan,Price\r\n"
        "a@gym.example,Monthly,₪300\r\n"
        "b@gym.example,Monthly,300\r\n"
        'c@gym.example,Yearly,"3,000"\r\n'
    )
    answer = await world.uploaded(text)
    mapping = answer["suggestedMapping"]
    assert mapping == {
        "memberFields": {"Email": "email", "Plan": "planName"},
        "planFields": {"Plan": "name", "Price": "price"},
    }
    everything = {"members": True, "plans": True, "leads": False}
    assert (await world.confirm(answer["jobId"], mapping, everything)).status_code == 202
    await drain(world.runtime.services)
    job = await world.job(answer["jobId"])
    assert job["status"] == "completed"
    assert job["results"]["plans"]["created"] == 2
    assert job["results"]["members"]["created"] == 3
    assert job["warningCount"] == 0  # every member found its plan
    plans = await world.client.get(f"/organizations/{world.org_id}/plans", headers=world.owner)
    prices = {p["name"]: p["price"] for p in plans.json()["data"]}
    assert set(prices) == {"Monthly", "Yearly"}
    assert "3000" in str(prices["Yearly"])


async def test_leads_from_a_file_need_an_email_or_a_phone(world: World) -> None:
    text = (
        "Name,Phone,Email\r\nAvi Cohen,0541234567,\r\nNo Contact,,\r\nBat Levi,,bat@gym.example\r\n"
    )
    answer = await world.uploaded(text)
    leads_only = {"members": False, "plans": False, "leads": True}
    response = await world.confirm(answer["jobId"], answer["suggestedMapping"], leads_only)
    assert response.status_code == 202, response.text
    await drain(world.runtime.services)
    job = await world.job(answer["jobId"])
    assert job["results"]["leads"]["created"] == 2
    assert job["results"]["leads"]["failed"] == 1
    leads = await world.client.get(f"/organizations/{world.org_id}/leads", headers=world.owner)
    found = {(row["firstName"], row["phone"], row["email"]) for row in leads.json()["data"]}
    assert found == {("Avi", "+972541234567", None), ("Bat", None, "bat@gym.example")}
    rejects = await world.client.get(f"{world.base}/jobs/{job['id']}/rejects", headers=world.owner)
    rows = list(csv.reader(io.StringIO(rejects.content.decode("utf-8-sig"))))
    assert rows[1:] == [["No Contact", "", "", "A lead needs an email address or a phone number."]]


async def test_an_upload_never_confirmed_ends_as_stale_after_its_preview_lease(
    world: World,
) -> None:
    from fitdata_core.usecases.imports import take_over_imports

    answer = await world.uploaded(rows_csv(2))
    assert await take_over_imports(world.runtime.services) == []  # its lease runs 24 hours
    async with world.runtime.engine.begin() as conn:
        await conn.execute(
            t.import_jobs.update()
            .where(t.import_jobs.c.id == answer["jobId"])
            .values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await take_over_imports(world.runtime.services) == [answer["jobId"]]
    await drain(world.runtime.services)
    job = await world.job(answer["jobId"])
    assert job["status"] == "cancelled"
    assert job["results"] == {}  # nothing ran
    assert stored_files(world.runtime.settings.data_dir) == []  # nor will: its file is gone
    assert (await world.upload(rows_csv(1))).status_code == 200  # the org may import again


async def test_rejects_and_retry_of_an_arbox_job_are_409(world: World) -> None:
    from fitdata_core.model.jobs import ImportJob, ImportPhase, ImportSource, ImportStatus

    svc = world.runtime.services
    async with svc.uow() as uow:
        owner = (await uow.users.get_by_email("owner@csv-gym.io")).id  # type: ignore[union-attr]
        job = ImportJob(
            id="5b0e4c1e-2222-4333-8444-955566667777",
            organization_id=world.org_id,
            source=ImportSource.ARBOX,
            status=ImportStatus.COMPLETED,
            phase=ImportPhase.DONE,
            config={},
            started_by=owner,
            created_at=datetime.now(UTC),
        )
        await uow.import_jobs.add(job)
        await uow.commit()
    rejects = await world.client.get(f"{world.base}/jobs/{job.id}/rejects", headers=world.owner)
    assert "for CSV imports only" in _problem(rejects, 409)
    retry = await world.client.post(
        f"{world.base}/jobs/{job.id}/retry-failed", json={}, headers=world.owner
    )
    assert "for CSV imports only" in _problem(retry, 409)


async def test_an_upload_racing_a_confirm_never_cancels_a_confirmed_job(world: World) -> None:
    """Either the confirm wins (202, the job runs, the upload is 409) or the upload does (the
    job is cancelled, the confirm is 409): exactly one of them, never both nor neither, never
    a 202 for a job then cancelled, and each row lands once. Each is held after reading the
    job until the other has read it too (without the upload's lock on the job it replaces,
    both win)."""
    landed = 0
    before = await world.count(t.memberships)
    for _ in range(3):
        answer = await world.uploaded(rows_csv(2))
        async with concurrent_client(_pausing_app(world, Rendezvous(parties=2))) as client:
            confirm, upload = await asyncio.gather(
                client.post(
                    f"{world.base}/csv/jobs/{answer['jobId']}/confirm",
                    json={"columnMapping": answer["suggestedMapping"], "entities": MEMBERS_ONLY},
                    headers=world.owner,
                ),
                client.post(
                    f"{world.base}/csv/upload",
                    files={"file": ("members.csv", rows_csv(3).encode(), "text/csv")},
                    headers=world.owner,
                ),
            )
        assert (confirm.status_code, upload.status_code) in {(202, 409), (409, 200)}, (
            confirm.text,
            upload.text,
        )
        job = await world.job(answer["jobId"])
        if confirm.status_code == 202:
            assert _problem(upload, 409) == "Active import already exists"
            assert job["status"] == "pending"
            assert job["config"]["confirmed"] is True
            assert await drain(world.runtime.services) == 1
            assert (await world.job(answer["jobId"]))["status"] == "completed"
            landed += 1
        else:
            assert "is cancelled" in _problem(confirm, 409)
            assert job["status"] == "cancelled"
            assert await drain(world.runtime.services) == 0  # the cancelled job never runs
            cancel = await world.client.delete(
                f"{world.base}/jobs/{upload.json()['data']['jobId']}", headers=world.owner
            )
            assert cancel.status_code == 200, cancel.text
        async with world.runtime.engine.connect() as conn:
            active = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t.import_jobs)
                    .where(t.import_jobs.c.status.in_(["pending", "in_progress"]))
                )
            ).scalar_one()
        assert active == 0
    # The same two addresses each time: the confirmed jobs that ran created them once.
    assert await world.count(t.memberships) == before + (2 if landed else 0)


async def test_a_retried_upload_replaces_the_first_and_a_retried_confirm_replays(
    world: World,
) -> None:
    """The upload takes no Idempotency-Key (a retry is safe as it is: it gets a new job and
    the first, unconfirmed one is cancelled); the confirm does (its retry runs nothing twice)."""
    keyed = {**world.owner, "Idempotency-Key": "retry-me-once"}
    first = await world.uploaded(rows_csv(2), headers=keyed)
    second = await world.uploaded(rows_csv(2), headers=keyed)
    assert second["jobId"] != first["jobId"]
    assert (await world.job(first["jobId"]))["status"] == "cancelled"
    assert "is cancelled" in _problem(
        await world.confirm(first["jobId"], first["suggestedMapping"]), 409
    )
    body = {"columnMapping": second["suggestedMapping"], "entities": MEMBERS_ONLY}
    url = f"{world.base}/csv/jobs/{second['jobId']}/confirm"
    answers = [await world.client.post(url, json=body, headers=keyed) for _ in range(2)]
    assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]
    assert answers[1].headers.get("Idempotent-Replayed") == "true"
    assert answers[1].json() == answers[0].json()
    assert await drain(world.runtime.services) == 1
    assert (await world.job(second["jobId"]))["results"]["members"]["created"] == 2


async def test_the_rejects_file_of_a_month_first_import_is_read_month_first(world: World) -> None:
    """A rejects file holds only the failed rows: their dates may all read either way
    (03/04/1985). The upload of it reads them in the order the first file's values proved."""
    text = "Email,Born\r\na@gym.example,12/25/1990\r\nbroken-email,03/04/1985\r\n"
    job = await world.run(text)
    assert job["config"]["dateOrders"] == {"Born": "mm/dd"}
    assert job["results"]["members"]["failed"] == 1
    rejects = await world.client.get(f"{world.base}/jobs/{job['id']}/rejects", headers=world.owner)
    assert rejects.status_code == 200, rejects.text
    fixed = rejects.content.decode("utf-8-sig").replace("broken-email", "b@gym.example")
    answer = await world.uploaded(fixed.encode("utf-8-sig"), "rejects.csv")
    assert answer["previewRows"] == [{"email": "b@gym.example", "birthDate": "1985-03-04"}]
    assert answer["detected"]["dateOrder"] == "mm/dd"
    confirmed = await world.confirm(answer["jobId"], answer["suggestedMapping"])
    assert confirmed.status_code == 202, confirmed.text
    await drain(world.runtime.services)
    second = await world.job(answer["jobId"])
    assert second["config"]["dateOrders"] == {"Born": "mm/dd"}
    assert second["results"]["members"]["created"] == 1


async def test_the_rejects_file_gets_the_mapping_the_owner_confirmed(world: World) -> None:
    """The owner mapped a column by hand; the rejects file (the same columns plus ``error``)
    is suggested that mapping again, so it can be confirmed as is."""
    text = "Mail,Given,Comment\r\na@gym.example,A,x\r\nbroken,B,y\r\n"
    mine = {"memberFields": {"Mail": "email", "Comment": "notes"}, "planFields": {}}
    job = await world.run(text, mapping=mine)
    assert job["results"]["members"]["failed"] == 1
    rejects = await world.client.get(f"{world.base}/jobs/{job['id']}/rejects", headers=world.owner)
    fixed = rejects.content.decode("utf-8-sig").replace("broken,", "b@gym.example,")
    answer = await world.uploaded(fixed.encode("utf-8-sig"), "rejects.csv")
    assert answer["headers"] == ["Mail", "Given", "Comment", "error"]
    assert answer["suggestedMapping"] == mine


# --- the stored file's retention ------------------------------------------------------------


def _source_file(world: World, job_id: str) -> Path:
    return (
        world.runtime.settings.data_dir
        / "storage"
        / "imports"
        / world.org_id
        / job_id
        / ("source.csv")
    )


async def test_the_file_sweep_deletes_a_finished_imports_file_after_its_retention(
    world: World,
) -> None:
    failing = rows_csv(2) + "not-an-email,Bad,Row,,\r\n"
    old = await world.run(failing)
    young = await world.run(failing)
    assert old["status"] == young["status"] == "completed"
    assert old["config"]["fileDeletedAt"] is None  # present, null while the file is kept
    young_finished = datetime.fromisoformat(young["completedAt"])
    assert datetime.fromisoformat(old["completedAt"]) < young_finished
    retention = world.runtime.services.imports.file_retention
    assert retention == timedelta(days=30)  # FITDATA_IMPORT_FILE_RETENTION_DAYS's default

    # Played forward to exactly 30 days after the young job finished: the young job is at
    # its retention (kept), the old one is past it (deleted).
    at = young_finished + retention
    deleted = await sweep_import_files(world.runtime.services, at)

    assert [d.job_id for d in deleted] == [old["id"]]
    assert not _source_file(world, old["id"]).exists()
    assert _source_file(world, young["id"]).exists()
    gone = await world.job(old["id"])
    assert datetime.fromisoformat(gone["config"]["fileDeletedAt"]) == at
    assert gone["config"].keys() == young["config"].keys()  # every key still there
    assert gone["config"]["file"] == old["config"]["file"]
    assert (await world.job(young["id"]))["config"]["fileDeletedAt"] is None

    rejects = await world.client.get(f"{world.base}/jobs/{old['id']}/rejects", headers=world.owner)
    expected = (
        f"The file of this import was deleted on {at.date().isoformat()}, 30 days after it "
        "finished (FITDATA_IMPORT_FILE_RETENTION_DAYS). Upload the file again to re-import it."
    )
    assert _problem(rejects, 410) == expected
    assert rejects.json()["code"] == "IMPORT_FILE_DELETED"
    assert rejects.headers["content-type"].startswith("application/problem+json")
    retry = await world.client.post(
        f"{world.base}/jobs/{old['id']}/retry-failed", json={}, headers=world.owner
    )
    assert _problem(retry, 410) == expected
    assert await world.count(t.import_jobs) == 2  # no retry job was created

    # The young job inside its window still reads its file.
    kept = await world.client.get(f"{world.base}/jobs/{young['id']}/rejects", headers=world.owner)
    assert kept.status_code == 200, kept.text
    assert b"not-an-email" in kept.content
    # A second sweep at the same time finds nothing to do; a day later the young file goes.
    assert await sweep_import_files(world.runtime.services, at) == []
    later = await sweep_import_files(world.runtime.services, at + timedelta(days=1))
    assert [d.job_id for d in later] == [young["id"]]
    assert not _source_file(world, young["id"]).exists()


@attrs.define
class _CountedDeletes:
    """The world's storage, counting deletes per key, each one slow enough for concurrent
    sweeps to overlap on the same job."""

    inner: Any
    deletes: dict[str, int] = attrs.field(factory=dict)

    async def delete(self, key: str) -> None:
        self.deletes[key] = self.deletes.get(key, 0) + 1
        await asyncio.sleep(0.05)
        await self.inner.delete(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_concurrent_file_sweeps_delete_each_file_once(world: World) -> None:
    jobs = [await world.run(rows_csv(2, start=10 * i)) for i in range(4)]
    storage = _CountedDeletes(world.runtime.services.storage)
    svc = attrs.evolve(world.runtime.services, storage=storage)
    at = max(datetime.fromisoformat(j["completedAt"]) for j in jobs) + timedelta(days=31)

    # Five sweeps at once, as five scheduler ticks or operators in as many processes would:
    # each lists the same four due jobs.
    results = await asyncio.gather(*(sweep_import_files(svc, at) for _ in range(5)))

    swept = sorted(d.job_id for found in results for d in found)
    assert swept == sorted(j["id"] for j in jobs)  # each reported by exactly one sweep
    assert storage.deletes == {j["config"]["file"]["key"]: 1 for j in jobs}
    for job in jobs:
        assert not _source_file(world, job["id"]).exists()
        shown = await world.job(job["id"])
        assert datetime.fromisoformat(shown["config"]["fileDeletedAt"]) == at


@pytest.mark.parametrize("dry_run", [False, True], ids=["applied", "dry-run"])
async def test_an_unknown_plan_warning_names_the_owners_column(world: World, dry_run: bool) -> None:
    text = "E-mail,Membership\r\na@gym.example,Gold\r\nb@gym.example,\r\n"
    mapping = {"memberFields": {"E-mail": "email", "Membership": "planName"}}
    job = await world.run(text, mapping=mapping, dryRun=dry_run)
    assert job["status"] == "completed"
    assert job["results"]["members"]["created"] == 2
    warnings = [e for e in job["errors"] if e["severity"] == "warning"]
    assert [(w["field"], w["reason"]) for w in warnings] == [
        ("Membership", "Membership: No plan named 'Gold'; the membership has no plan.")
    ]
