"""An import job's staged rows and undo log are deleted with the job (migration 0011).

They have no foreign key to ``import_jobs`` (checked row by row, it cost more than the bulk
load itself); a trigger does what the key's ``ON DELETE CASCADE`` did, on both backends,
whether the job is deleted on its own or with its organization."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.engine import create_sync_engine

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(migrated_db_url: str) -> Iterator[sa.Engine]:
    engine = create_sync_engine(migrated_db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _org(conn: sa.Connection, org_id: str) -> None:
    conn.execute(
        t.organizations.insert().values(id=org_id, name=org_id, platform_tier="pro", created_at=T0)
    )


def _job_with_rows(
    conn: sa.Connection, org_id: str, job_id: str, owner: str, status: str = "in_progress"
) -> None:
    conn.execute(
        t.import_jobs.insert().values(
            id=job_id,
            organization_id=org_id,
            source="csv",
            status=status,
            phase="members",
            config={},
            results={},
            started_by=owner,
            created_at=T0,
        )
    )
    conn.execute(
        t.import_staging.insert(),
        [
            {"job_id": job_id, "entity": "members", "seq": n, "m_email": f"{n}@x.test"}
            for n in (0, 1)
        ],
    )
    conn.execute(
        t.import_changes.insert(),
        [
            {
                "job_id": job_id,
                "entity": "member",
                "row_key": f"{job_id}-user-{n}",
                "action": "created",
                "after_values": {"n": n},
            }
            for n in (0, 1, 2)
        ],
    )


def _rows_by_job(conn: sa.Connection) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    for table, slot in ((t.import_staging, 0), (t.import_changes, 1)):
        query = sa.select(table.c.job_id, sa.func.count()).group_by(table.c.job_id)
        for job_id, n in conn.execute(query):
            staged, changes = counts.get(job_id, (0, 0))
            counts[job_id] = (n, changes) if slot == 0 else (staged, n)
    return counts


def test_a_deleted_job_takes_its_staged_rows_and_undo_log_with_it(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _org(conn, "org-a")
        conn.execute(
            t.users.insert().values(
                id="owner", email="owner@x.test", is_platform_admin=False, created_at=T0
            )
        )
        _job_with_rows(conn, "org-a", "job-1", "owner", status="completed")  # an undo log kept
        _job_with_rows(conn, "org-a", "job-2", "owner")
    with engine.begin() as conn:
        assert _rows_by_job(conn) == {"job-1": (2, 3), "job-2": (2, 3)}
        conn.execute(t.import_jobs.delete().where(t.import_jobs.c.id == "job-1"))
    with engine.connect() as conn:
        assert _rows_by_job(conn) == {"job-2": (2, 3)}  # the other job's rows are untouched


def test_a_deleted_organization_takes_its_jobs_rows_with_them(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for org_id in ("org-a", "org-b"):
            _org(conn, org_id)
        conn.execute(
            t.users.insert().values(
                id="owner", email="owner@x.test", is_platform_admin=False, created_at=T0
            )
        )
        _job_with_rows(conn, "org-a", "job-a", "owner")
        _job_with_rows(conn, "org-b", "job-b", "owner")
    with engine.begin() as conn:
        # The jobs go by their own foreign key's cascade; their rows by the trigger.
        conn.execute(t.organizations.delete().where(t.organizations.c.id == "org-a"))
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(t.import_jobs)) == 1
        assert _rows_by_job(conn) == {"job-b": (2, 3)}
