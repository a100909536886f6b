"""The read model's triggers keep it exactly in step with ``workouts``, whatever writes them.

A hypothesis state machine on Postgres writes workouts as the outside system and the service
might: multi-row inserts, deletes by ids, of a member's workouts, of a member or a gym (the
foreign keys' cascade), updates that move workouts across days and years or change their
gym, kind, member, minutes (to and from NULL) and calories, and ``TRUNCATE``. After every step
the read model must hold exactly what Python works out from the workouts (no row left at zero
workouts or with no day set), and for the ranges drawn the read model's figures must be the
reference statement's over ``workouts``.

The moments sit on the edges that matter: New Year, the leap day, day 366, a second either
side of midnight, and one given in another time zone; the session's time zone is not UTC, so
a trigger that took the session's day instead of the UTC day would be caught.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from analytics_seed import _org, _user
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy.engine import make_url

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.engine import create_engine, create_sync_engine
from support.pg_locks import wait_for_a_lock_wait
from support.workouts_read_model import (
    actual_read_model,
    all_workouts,
    expected_read_model,
    from_read_model,
    from_workouts,
)

pytestmark = pytest.mark.integration

ORGS = ("gym-1", "gym-2")
USERS = ("u1", "u2", "u3")
KINDS = ("run", "yoga", "swim")
MOMENTS = (
    datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(2024, 1, 1, tzinfo=UTC),
    datetime(2024, 2, 28, 23, 59, 59, tzinfo=UTC),
    datetime(2024, 2, 29, tzinfo=UTC),
    datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC),
    datetime(2024, 7, 1, 12, tzinfo=UTC),
    datetime(2024, 12, 31, tzinfo=UTC),
    datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(2025, 1, 1, tzinfo=UTC),
    # 2024-12-31 23:30 UTC: day 366 of 2024, though it is 2025 where it was written.
    datetime(2025, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))),
)
SHIFTS = (
    timedelta(seconds=1),
    timedelta(seconds=-1),
    timedelta(days=1),
    timedelta(days=-1),
    timedelta(days=365),
    timedelta(days=-366),
)
FIRST_DAYS = tuple(
    sorted({m.astimezone(UTC).date() for m in MOMENTS} | {date(2023, 1, 1), date(2025, 6, 1)})
)
SPANS = (0, 1, 59, 366, 800)
# The session's time zone: a day boundary 13 hours off UTC's, 14 in its summer.
SESSION_TIME_ZONE = "Pacific/Auckland"

minutes = st.one_of(st.none(), st.integers(0, 180))
calories = st.one_of(st.none(), st.integers(0, 1_000))
new_workout = st.fixed_dictionaries(
    {
        "organization_id": st.sampled_from(ORGS),
        "user_id": st.sampled_from(USERS),
        "kind": st.sampled_from(KINDS),
        "performed_at": st.sampled_from(MOMENTS),
        "duration_minutes": minutes,
        "calories": calories,
    }
)
changes = st.fixed_dictionaries(
    {},
    optional={
        "organization_id": st.sampled_from(ORGS),
        "user_id": st.sampled_from(USERS),
        "kind": st.sampled_from(KINDS),
        "performed_at": st.sampled_from(MOMENTS),
        "duration_minutes": minutes,
        "calories": calories,
    },
).filter(bool)


class ReadModelMachine(RuleBasedStateMachine):
    """Writes to ``workouts``; the read model must follow."""

    engine: ClassVar[sa.Engine]

    def __init__(self) -> None:
        super().__init__()
        self.created = 0
        with self.engine.begin() as conn:
            # TRUNCATE, whose trigger empties the read model: each example starts from
            # nothing even when a faulty trigger left rows behind in the one before.
            conn.execute(sa.text("TRUNCATE workouts"))
            for table in (t.users, t.organizations):
                conn.execute(table.delete())
            conn.execute(t.organizations.insert(), [_org(o) for o in ORGS])
            conn.execute(t.users.insert(), [_user(u) for u in USERS])

    def _ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(conn.scalars(sa.select(t.workouts.c.id)))

    def _some_ids(self, data: st.DataObject) -> list[str]:
        ids = self._ids()
        if not ids:
            return []
        return data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=4, unique=True))

    @rule(rows=st.lists(new_workout, min_size=1, max_size=6))
    def insert(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.created += 1
            row["id"] = f"w{self.created}"
        with self.engine.begin() as conn:
            conn.execute(t.workouts.insert(), rows)

    @rule(data=st.data())
    def delete_by_ids(self, data: st.DataObject) -> None:
        self.delete_ids(self._some_ids(data))

    def delete_ids(self, ids: list[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(t.workouts.delete().where(t.workouts.c.id.in_(ids)))

    @rule(user=st.sampled_from(USERS))
    def delete_a_members_workouts(self, user: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(t.workouts.delete().where(t.workouts.c.user_id == user))

    @rule(user=st.sampled_from(USERS))
    def delete_a_member(self, user: str) -> None:
        # The cascade deletes the member's workouts in every gym; they come back as a new
        # account with the same id, without workouts.
        with self.engine.begin() as conn:
            conn.execute(t.users.delete().where(t.users.c.id == user))
            conn.execute(t.users.insert(), [_user(user)])

    @rule(org=st.sampled_from(ORGS))
    def delete_a_gym(self, org: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(t.organizations.delete().where(t.organizations.c.id == org))
            conn.execute(t.organizations.insert(), [_org(org)])

    @rule(data=st.data(), values=changes)
    def update(self, data: st.DataObject, values: dict[str, Any]) -> None:
        self.update_ids(self._some_ids(data), values)

    def update_ids(self, ids: list[str], values: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(t.workouts.update().where(t.workouts.c.id.in_(ids)).values(values))

    @rule(data=st.data(), shift=st.sampled_from(SHIFTS))
    def move(self, data: st.DataObject, shift: timedelta) -> None:
        self.move_ids(self._some_ids(data), shift)

    def move_ids(self, ids: list[str], shift: timedelta) -> None:
        # Each row by the same amount from where it is: rows end on different days and years.
        w = t.workouts.c
        with self.engine.begin() as conn:
            conn.execute(
                t.workouts.update()
                .where(w.id.in_(ids))
                .values(performed_at=w.performed_at + sa.literal(shift, sa.Interval()))
            )

    @rule()
    def truncate(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE workouts"))

    @rule(first=st.sampled_from(FIRST_DAYS), span=st.sampled_from(SPANS), org=st.sampled_from(ORGS))
    def a_range_gives_the_workouts_figures(self, first: date, span: int, org: str) -> None:
        last = first + timedelta(days=span)
        with self.engine.connect() as conn:
            assert from_read_model(conn, org, first, last) == from_workouts(conn, org, first, last)

    @invariant()
    def the_read_model_holds_what_the_workouts_say(self) -> None:
        with self.engine.connect() as conn:
            assert actual_read_model(conn) == expected_read_model(all_workouts(conn))

    @invariant()
    def new_year_and_leap_day_give_the_workouts_figures(self) -> None:
        with self.engine.connect() as conn:
            for first, last in (
                (date(2023, 12, 31), date(2024, 1, 1)),
                (date(2024, 2, 29), date(2024, 2, 29)),
                (date(2024, 12, 31), date(2025, 1, 1)),
            ):
                found = from_read_model(conn, ORGS[0], first, last)
                assert found == from_workouts(conn, ORGS[0], first, last)


@pytest.fixture
def engine(clean_pg_url: str) -> Iterator[sa.Engine]:
    url = make_url(clean_pg_url).update_query_dict({"options": f"-c TimeZone={SESSION_TIME_ZONE}"})
    engine = create_sync_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_the_triggers_keep_the_read_model_in_step(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SHOW TimeZone")) == SESSION_TIME_ZONE
    ReadModelMachine.engine = engine
    run_state_machine_as_test(
        ReadModelMachine,
        settings=settings(max_examples=25, stateful_step_count=12, deadline=None),
    )


def _row(org: str, user: str, kind: str, at: datetime, minutes: int | None) -> dict[str, Any]:
    return {
        "organization_id": org,
        "user_id": user,
        "kind": kind,
        "performed_at": at,
        "duration_minutes": minutes,
        "calories": 100,
    }


def test_a_fixed_sequence_of_every_kind_of_write(engine: sa.Engine) -> None:
    """Every write the state machine makes, in an order that always reaches the cases the
    random runs may miss in a given run: a day total and a member-year emptied by each
    kind of delete and by updates, a member's second workout of a day, a row moved over New
    Year and onto day 366."""
    ReadModelMachine.engine = engine
    machine = ReadModelMachine()

    def check() -> None:
        machine.the_read_model_holds_what_the_workouts_say()
        machine.new_year_and_leap_day_give_the_workouts_figures()
        machine.a_range_gives_the_workouts_figures(date(2023, 1, 1), 800, ORGS[0])

    eve, new_year, leap = MOMENTS[0], MOMENTS[1], MOMENTS[3]
    machine.insert(
        [
            _row("gym-1", "u1", "run", eve, 30),
            _row("gym-1", "u1", "run", eve - timedelta(hours=1), None),  # the same bit again
            _row("gym-1", "u2", "run", new_year, 45),
            _row("gym-2", "u1", "yoga", leap, None),
        ]
    )
    check()
    machine.delete_ids(["w2"])  # the day stays, with one workout; the bit stays
    check()
    machine.move_ids(["w1"], timedelta(seconds=1))  # over New Year: 2023's member-year goes
    check()
    machine.update_ids(["w3"], {"performed_at": MOMENTS[9], "duration_minutes": None})  # day 366
    check()
    machine.update_ids(["w4"], {"organization_id": "gym-1", "kind": "swim", "user_id": "u3"})
    check()
    machine.delete_a_gym("gym-2")  # nothing of gym-2 is left already: the cascade deletes none
    machine.delete_a_members_workouts("u3")
    check()
    machine.insert([_row("gym-2", "u2", "run", leap, 20), _row("gym-1", "u2", "run", leap, 20)])
    machine.delete_a_member("u2")  # the cascade, in both gyms
    check()
    machine.delete_a_gym("gym-1")
    check()
    with engine.connect() as conn:
        assert actual_read_model(conn) == ({}, {})
    machine.insert([_row("gym-1", "u1", "run", leap, 20)])
    machine.truncate()
    check()


@pytest.mark.parametrize("first", ["insert", "delete"])
async def test_a_delete_and_an_insert_of_one_member_year_at_once(
    clean_pg_url: str, first: str
) -> None:
    """Two transactions touch the same member-year: one deletes a workout (its trigger
    rebuilds the member-year from the workouts it can see), the other adds one on another
    day (its trigger sets that day's bit). Whichever triggers first, the other waits on the
    member-year's row lock, and no bit is lost: the rebuild reads the workouts only once the
    lock is its, so it sees the other's committed workout."""
    sync = create_sync_engine(clean_pg_url)
    engine = create_engine(clean_pg_url)
    leap = datetime(2024, 2, 29, 12, tzinfo=UTC)
    try:
        ReadModelMachine.engine = sync
        machine = ReadModelMachine()
        machine.insert([_row("gym-1", "u1", "run", leap, 30), _row("gym-1", "u1", "run", leap, 5)])
        insert = t.workouts.insert().values(
            id="late", **_row("gym-1", "u1", "run", leap + timedelta(days=1), 10)
        )
        delete = t.workouts.delete().where(t.workouts.c.id.in_(["w1", "w2"]))
        early, late = (insert, delete) if first == "insert" else (delete, insert)

        async def then() -> None:
            async with engine.begin() as conn:
                await conn.execute(late)

        async with engine.connect() as holder:
            await holder.begin()
            await holder.execute(early)  # its trigger holds the member-year's row lock
            waiting = asyncio.create_task(then())
            await wait_for_a_lock_wait(engine)
            await holder.commit()
        await waiting
        machine.the_read_model_holds_what_the_workouts_say()
        with sync.connect() as conn:
            assert len(all_workouts(conn)) == 1
    finally:
        await engine.dispose()
        sync.dispose()
