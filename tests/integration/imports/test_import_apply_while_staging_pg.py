"""On Postgres, the engine applies staged members (set-based, in the database) while it checks
and stages the next page in this process: the two steps run at once on two connections and
take the job's row lock in turn. What lands is what lands with the steps one after the other,
row for row, and so is the undo log."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
import sqlalchemy as sa

from fitdata_adapters.bootstrap import bootstrap, import_policy
from fitdata_adapters.db import tables as t
from fitdata_adapters.memory import MemoryJobQueue
from fitdata_adapters.memory.member_source import MemoryMemberSource
from fitdata_adapters.settings import Settings
from fitdata_core.model.jobs import ImportStatus
from fitdata_core.services import Actor
from fitdata_core.usecases.imports import ImportRequest, start_import
from fitdata_core.usecases.organizations import create_organization
from support.databases import truncate_all_postgres
from support.fakes import NoPayments
from support.imports import API_KEY, PLANS, drain, job_of, members

pytestmark = pytest.mark.integration

PAGE = 250


def _source() -> MemoryMemberSource:
    """Six pages with what crosses a page boundary: an email again two pages later, a bad
    email, and a plan nobody has."""
    rows = members(6 * PAGE)
    rows[2 * PAGE + 3] = attrs.evolve(rows[2 * PAGE + 3], email=rows[5].email, first_name="Again")
    rows[PAGE + 7] = attrs.evolve(rows[PAGE + 7], email="not-an-email")
    rows[4 * PAGE] = attrs.evolve(rows[4 * PAGE], plan_name="Gold")
    return MemoryMemberSource(plans=PLANS, members=rows, page_size=PAGE)


async def _import(
    tmp_path: Path,
    url: str,
    *,
    beside: bool,
    keep: bool = False,
    source: MemoryMemberSource | None = None,
) -> tuple[Any, list[str]]:
    """Import ``_source()`` into a new gym (``keep``: into the gym there is); what landed, and
    the engine's log events."""
    settings = Settings.from_env(
        {
            "FITDATA_MODE": "embedded",
            "FITDATA_DATA_DIR": str(tmp_path),
            "FITDATA_DATABASE_URL": url,
            "FITDATA_JWT_SECRET": "apply-beside-test-jwt-secret-long-enough-for-hs256",
        }
    )
    assert import_policy(settings).apply_while_staging  # Postgres: on by default
    policy = attrs.evolve(
        import_policy(settings),
        batch_size=PAGE,
        set_batch_size=PAGE,
        stage_rows=PAGE,
        apply_while_staging=beside,
    )
    rt = bootstrap(
        settings,
        payment_gateway=NoPayments(),
        queue=MemoryJobQueue(),
        member_source=source or _source(),
        imports=policy,
    )
    handler = _Events()
    logging.getLogger("fitdata.imports").addHandler(handler)
    try:
        svc = rt.services
        async with svc.uow() as uow:
            owner = await uow.users.get_by_email("o@side.io")
        if owner is None or not keep:
            await create_organization(svc, name="Side By Side Gym", owner_email="o@side.io")
            async with svc.uow() as uow:
                owner = await uow.users.get_by_email("o@side.io")
        assert owner is not None
        async with rt.engine.connect() as conn:
            org_id = (
                await conn.execute(
                    sa.select(t.memberships.c.organization_id).where(
                        t.memberships.c.user_id == owner.id
                    )
                )
            ).scalar_one()
        job_id = await start_import(
            svc, Actor(owner.id), org_id, ImportRequest(credentials=API_KEY, enrich=False)
        )
        await drain(svc)
        job = await job_of(svc, job_id)
        async with rt.engine.connect() as conn:
            u, m, p = t.users.c, t.memberships.c, t.member_profiles.c
            people = (
                await conn.execute(
                    sa.select(u.email, u.first_name, u.phone, m.status, m.role, p.external_id)
                    .join(t.memberships, m.user_id == u.id)
                    .join(t.member_profiles, (p.user_id == u.id), isouter=True)
                    .order_by(u.email)
                )
            ).all()
            undo = (
                await conn.execute(
                    sa.select(t.import_changes.c.entity, t.import_changes.c.action)
                    .where(t.import_changes.c.job_id == job_id)
                    .order_by(t.import_changes.c.id)
                )
            ).all()
        landed = (
            job.status,
            job.results,
            sorted((p.source_id, p.field, p.reason) for p in job.report.problems),
            [tuple(r) for r in people],
            [tuple(r) for r in undo],
            job.report.progress["members"],
        )
        return landed, handler.events
    finally:
        logging.getLogger("fitdata.imports").removeHandler(handler)
        await rt.aclose()


class _Events(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.events: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append(f"{record.getMessage()} {getattr(record, 'entity', '')}".strip())


async def test_applying_beside_staging_lands_row_for_row_what_one_after_the_other_does(
    tmp_path: Path, clean_pg_url: str
) -> None:
    logging.getLogger("fitdata.imports").setLevel(logging.INFO)
    beside, events = await _import(tmp_path / "beside", clean_pg_url, beside=True)
    # The applies really ran while the source was still being read and staged.
    assert events.index("import batch members") < events.index("import fetched members")
    truncate_all_postgres(clean_pg_url)
    in_turn, events = await _import(tmp_path / "in-turn", clean_pg_url, beside=False)
    assert events.index("import fetched members") < events.index("import batch members")
    assert beside == in_turn
    status, results, problems, people, undo, _ = beside
    assert status is ImportStatus.COMPLETED
    assert results["members"] == {
        "created": 6 * PAGE - 2,
        "updated": 1,  # the email again, two pages later
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
    }
    assert [(source_id, field) for source_id, field, _ in problems] == [
        (str(1000 + PAGE + 7), "email"),
        (str(1000 + 4 * PAGE), "plan_name"),
    ]
    assert len(people) == 6 * PAGE - 2 + 1  # each member once, and the owner
    # The plan, one row per created member, and the repeated email's user and profile.
    assert Counter(undo) == {
        ("plan", "created"): 1,
        ("member", "created"): 6 * PAGE - 2,
        ("user", "updated"): 1,
        ("profile", "updated"): 1,
    }


def _analyses(url: str) -> dict[str, int]:
    """How many times each member table was analysed by hand (``ANALYZE``)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT relname, analyze_count FROM pg_stat_user_tables "
            "WHERE relname IN ('users', 'memberships', 'member_profiles')"
        ).fetchall()
    return {name: int(count) for name, count in rows}


async def test_statistics_are_refreshed_after_an_import_that_wrote_and_not_after_one_that_did_not(
    tmp_path: Path, clean_pg_url: str
) -> None:
    """Stale statistics after a bulk load make the planner pick plans that cost seconds, so an
    import that wrote rows analyses the member tables; an identical re-import wrote nothing,
    so it changed no statistic and skips the ANALYZE (a second or more on big tables)."""
    before = _analyses(clean_pg_url)
    rows = members(3 * PAGE)
    first, _ = await _import(tmp_path / "1", clean_pg_url, beside=True, keep=True, source=_of(rows))
    assert first[1]["members"]["created"] == 3 * PAGE
    after_first = _analyses(clean_pg_url)
    assert all(after_first[t] > before.get(t, 0) for t in after_first), (before, after_first)
    again, _ = await _import(tmp_path / "2", clean_pg_url, beside=True, keep=True, source=_of(rows))
    assert again[1]["members"] == {
        "created": 0,
        "updated": 0,
        "unchanged": 3 * PAGE,
        "skipped": 0,
        "failed": 0,
    }
    assert _analyses(clean_pg_url) == after_first


def _of(rows: list[Any]) -> MemoryMemberSource:
    return MemoryMemberSource(plans=PLANS, members=rows, page_size=PAGE)
