"""``fitdata demo``: a realistic gym, the same every time, never seeded twice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cli_support import run_cli

from fitdata_adapters.bootstrap import bootstrap
from fitdata_adapters.cli.runtime import NoPaymentGateway
from fitdata_adapters.clock import ManualClock
from fitdata_adapters.db import tables
from fitdata_adapters.db.engine import create_sync_engine
from fitdata_adapters.demo import seed_demo
from fitdata_adapters.settings import Settings
from fitdata_adapters.tokens import verify_token
from support.databases import create_database, drop_database, unique_database_name
from support.workouts_read_model import actual_read_model, all_workouts, expected_read_model

pytestmark = pytest.mark.integration

MEMBERS = 40
HEBREW = re.compile(r"[\u0590-\u05FF]")
COUNTED = (
    tables.users,
    tables.memberships,
    tables.member_profiles,
    tables.plans,
    tables.locations,
    tables.member_payments,
    tables.class_sessions,
    tables.class_bookings,
    tables.workouts,
)


def _database_url() -> str:
    return Settings.from_env().database_url


def _counts(url: str) -> dict[str, int]:
    engine = create_sync_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in COUNTED
            }
    finally:
        engine.dispose()


def _demo_json() -> dict[str, Any]:
    outcome = run_cli(["demo", "--members", str(MEMBERS), "--json"])
    assert outcome.exit_code == 0, outcome.stderr
    data = outcome.json()
    assert isinstance(data, dict)
    return data


def test_demo_prints_a_token_per_role_and_running_it_again_adds_nothing() -> None:
    first = _demo_json()
    counts = _counts(_database_url())
    second = _demo_json()

    assert first["created"] is True
    assert second["created"] is False
    assert second["org_id"] == first["org_id"]
    assert second["logins"].keys() == {"owner", "admin", "coach", "member"}
    secret = Settings.from_env().jwt_secret
    for role, login in second["logins"].items():
        assert login["user_id"] == first["logins"][role]["user_id"]
        assert verify_token(secret, login["token"]).user_id == login["user_id"]
        assert second["tokens"][role] == login["token"]
    assert _counts(_database_url()) == counts
    # The members, the member login, the owner, the admin and four coaches.
    assert counts["memberships"] == MEMBERS + 1 + 1 + 1 + 4


def test_demo_plain_output_is_shell_assignments() -> None:
    outcome = run_cli(["demo", "--members", str(MEMBERS)])

    assert outcome.exit_code == 0, outcome.stderr
    pairs = dict(line.split("=", 1) for line in outcome.stdout.strip().splitlines())
    assert set(pairs) == {
        "ORG_ID",
        *(
            f"{role}_{what}"
            for role in ("OWNER", "ADMIN", "COACH", "MEMBER")
            for what in ("EMAIL", "TOKEN")
        ),
    }
    assert pairs["MEMBER_EMAIL"] == "member@demo-gym.example"
    assert "Created the demo gym" in outcome.stderr


def test_demo_gym_has_people_in_two_scripts_and_a_year_of_activity() -> None:
    org_id = _demo_json()["org_id"]
    engine = create_sync_engine(_database_url())
    try:
        with engine.connect() as conn:
            names = conn.execute(sa.select(tables.users.c.first_name)).scalars().all()
            roles = dict(
                conn.execute(
                    sa.select(tables.memberships.c.role, sa.func.count())
                    .where(tables.memberships.c.organization_id == org_id)
                    .group_by(tables.memberships.c.role)
                ).all()
            )
            paid = (
                conn.execute(
                    sa.select(tables.member_payments.c.paid_at).where(
                        tables.member_payments.c.status == "paid"
                    )
                )
                .scalars()
                .all()
            )
            bookings = dict(
                conn.execute(
                    sa.select(tables.class_bookings.c.status, sa.func.count()).group_by(
                        tables.class_bookings.c.status
                    )
                ).all()
            )
            workouts = conn.execute(sa.select(sa.func.count()).select_from(tables.workouts))
            workout_count = workouts.scalar_one()
    finally:
        engine.dispose()

    assert any(name and HEBREW.search(name) for name in names)
    assert any(name and name.isascii() for name in names)
    assert roles == {"owner": 1, "admin": 1, "coach": 4, "member": MEMBERS + 1}
    now = datetime.now(UTC)
    paid_at = [value.replace(tzinfo=UTC) if value.tzinfo is None else value for value in paid]
    assert min(paid_at) < now - timedelta(days=300)
    assert max(paid_at) > now - timedelta(days=40)
    assert {"attended", "no_show", "cancelled", "booked"} <= bookings.keys()
    assert workout_count > bookings["attended"]


def test_demo_is_deterministic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def emails_and_amounts() -> tuple[list[str], list[str]]:
        engine = create_sync_engine(_database_url())
        try:
            with engine.connect() as conn:
                emails = conn.execute(sa.select(tables.users.c.email).order_by("email"))
                amounts = conn.execute(
                    sa.select(tables.member_payments.c.amount).order_by("amount")
                )
                return list(emails.scalars()), [str(a) for a in amounts.scalars()]
        finally:
            engine.dispose()

    _demo_json()
    first = emails_and_amounts()
    monkeypatch.setenv("FITDATA_DATA_DIR", str(tmp_path / "another"))
    _demo_json()

    assert emails_and_amounts() == first


def test_demo_finishes_a_run_that_was_cut_short() -> None:
    _demo_json()
    url = _database_url()
    complete = _counts(url)
    engine = create_sync_engine(url)
    try:
        with engine.begin() as conn:
            for table in (
                tables.workouts,
                tables.class_bookings,
                tables.class_sessions,
                tables.member_payments,
            ):
                conn.execute(table.delete())
    finally:
        engine.dispose()

    again = _demo_json()

    assert again["created"] is False
    assert _counts(url) == complete


async def test_demo_fills_in_the_same_rows_when_run_again_days_later() -> None:
    """The generated year is anchored to the org's creation, not to the second run's clock:
    finishing a cut-short run later must not shift members' timelines or their activity."""
    settings = Settings.from_env()
    assert run_cli(["migrate"]).exit_code == 0
    clock = ManualClock(datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC))

    async def seed() -> None:
        runtime = bootstrap(settings, payment_gateway=NoPaymentGateway(), clock=clock)
        try:
            await seed_demo(runtime, member_count=MEMBERS)
        finally:
            await runtime.aclose()

    def performed() -> list[datetime]:
        engine = create_sync_engine(settings.database_url)
        try:
            with engine.connect() as conn:
                query = sa.select(tables.workouts.c.performed_at).order_by("performed_at")
                return list(conn.execute(query).scalars())
        finally:
            engine.dispose()

    await seed()
    complete = _counts(settings.database_url)
    first = performed()
    engine = create_sync_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            for table in (tables.workouts, tables.class_bookings, tables.class_sessions):
                conn.execute(table.delete())
            conn.execute(tables.member_payments.delete())
    finally:
        engine.dispose()

    clock.set(clock.now() + timedelta(days=3, hours=7, seconds=41))
    await seed()

    assert _counts(settings.database_url) == complete
    assert performed() == first


@pytest.fixture
def postgres_database(postgres_server_url: str) -> Iterator[str]:
    name = unique_database_name("fitdata_cli")
    url = create_database(postgres_server_url, name)
    try:
        yield url
    finally:
        drop_database(postgres_server_url, name)


def test_demo_on_postgres(postgres_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FITDATA_MODE", "embedded")
    monkeypatch.setenv("FITDATA_DATABASE_URL", postgres_database)

    first = _demo_json()
    counts = _counts(postgres_database)
    second = _demo_json()

    assert first["created"] is True
    assert second["created"] is False
    assert second["org_id"] == first["org_id"]
    assert _counts(postgres_database) == counts
    assert counts["class_bookings"] > 0
    # The seeding's bulk inserts went through the read model's triggers (migration 0012).
    engine = create_sync_engine(postgres_database)
    try:
        with engine.connect() as conn:
            day_totals, member_years = actual_read_model(conn)
            assert day_totals
            assert (day_totals, member_years) == expected_read_model(all_workouts(conn))
    finally:
        engine.dispose()
