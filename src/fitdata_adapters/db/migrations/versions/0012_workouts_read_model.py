"""Postgres: a read model of the workouts, per day and per member-year, kept in step by
statement-level triggers, so ``workouts-summary`` no longer reads every workout of the range.

The summary had to answer in 50 ms on a 10k-member gym with a year of workouts (185,000 rows),
and its SQL alone took about 70 ms: two streaming aggregates over the org's index entries,
already at the executor's floor. Nothing cached in the service could help, because workouts
are written all day by an outside system straight into the table; only triggers see every
write. So the figures are kept pre-aggregated beside the table:

- ``workout_day_totals``: per (org, UTC day, kind) the workouts, minutes, timed workouts and
  calories. They add up, so a range's figures are sums over its days (a few thousand rows a
  year instead of 185,000).
- ``workout_member_years``: per (org, year, kind, member) a ``bit(366)`` whose bit *i* (from
  the left) says the member did that kind on day-of-year *i + 1* (UTC). Distinct members do
  not add up over days, but bits do: the members of a kind in a range are the rows with a
  bit set inside the range's mask (42,000 rows a year on the 10k gym).

The triggers are ``FOR EACH STATEMENT`` with transition tables: a bulk load (the demo seeding,
an outside system's batch) costs one grouped ``INSERT … SELECT`` per table, not one upsert per
row. An insert adds; a delete subtracts from the day totals and rebuilds the affected
member-years from the workouts that remain (bits cannot be subtracted: another workout of the
same member, kind and day may keep a bit set); an update is a delete of its old rows and an
insert of its new ones; ``TRUNCATE`` empties the read model. Rows that reach zero workouts or
no day are deleted, so the read model never holds what the workouts no longer say.

No foreign key to ``organizations`` or ``users``: every row is derived from workouts, which
have those keys with ``ON DELETE CASCADE``, and the cascade's delete of the workouts fires the
delete trigger, which removes what they contributed. A key would add a lookup of the org (and
a share lock on its row) for every read-model row written: the per-row cost migration 0011
took off the import tables.

SQLite keeps reading the workouts themselves (its gyms are small and it has no statement
triggers with transition tables): nothing is created there, so nothing can go stale.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 15:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY_TOTALS = "workout_day_totals"
MEMBER_YEARS = "workout_member_years"

# A workout's UTC day; the analytics' ranges are UTC days too.
_DAY = "(performed_at AT TIME ZONE 'UTC')::date"

_TABLES = (
    f"""
    CREATE TABLE {DAY_TOTALS} (
        organization_id varchar(64) NOT NULL,
        day date NOT NULL,
        kind varchar(50) NOT NULL,
        workouts integer NOT NULL,
        minutes bigint NOT NULL,
        timed integer NOT NULL,
        calories bigint NOT NULL,
        -- A range is one index scan of the org's days; its few kinds are grouped after.
        CONSTRAINT pk_{DAY_TOTALS} PRIMARY KEY (organization_id, day, kind)
    )
    """,
    f"""
    CREATE TABLE {MEMBER_YEARS} (
        organization_id varchar(64) NOT NULL,
        year integer NOT NULL,
        kind varchar(50) NOT NULL,
        user_id varchar(64) NOT NULL,
        days bit(366) NOT NULL,
        CONSTRAINT pk_{MEMBER_YEARS} PRIMARY KEY (organization_id, year, kind, user_id)
    )
    """,
)

# Each function reads a transition table (or, for the backfill, the workouts themselves)
# under the name given as {rows}. ``zero`` is a plpgsql variable: the empty bit string is
# built once per statement, not once per row.
_ADD_DAY_TOTALS = f"""
    INSERT INTO {DAY_TOTALS} AS t
        (organization_id, day, kind, workouts, minutes, timed, calories)
    SELECT organization_id, {_DAY}, kind, count(*), coalesce(sum(duration_minutes), 0),
           count(duration_minutes), coalesce(sum(calories), 0)
    FROM {{rows}}
    GROUP BY 1, 2, 3
    ON CONFLICT (organization_id, day, kind) DO UPDATE SET
        workouts = t.workouts + excluded.workouts,
        minutes = t.minutes + excluded.minutes,
        timed = t.timed + excluded.timed,
        calories = t.calories + excluded.calories;
"""  # noqa: S608 - the names are this module's constants

# Distinct days first: a busy member's many workouts of one day set one bit once.
_ADD_MEMBER_YEARS = f"""
    INSERT INTO {MEMBER_YEARS} AS t (organization_id, year, kind, user_id, days)
    SELECT organization_id, extract(year FROM day)::int, kind, user_id,
           bit_or(set_bit({{zero}}, extract(doy FROM day)::int - 1, 1))
    FROM (SELECT DISTINCT organization_id, kind, user_id, {_DAY} AS day FROM {{rows}}) AS d
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (organization_id, year, kind, user_id) DO UPDATE SET
        days = t.days | excluded.days;
"""  # noqa: S608 - the names are this module's constants

_SUBTRACT_DAY_TOTALS = f"""
    UPDATE {DAY_TOTALS} AS t SET
        workouts = t.workouts - g.workouts,
        minutes = t.minutes - g.minutes,
        timed = t.timed - g.timed,
        calories = t.calories - g.calories
    FROM (
        SELECT organization_id, {_DAY} AS day, kind, count(*) AS workouts,
               coalesce(sum(duration_minutes), 0) AS minutes,
               count(duration_minutes) AS timed, coalesce(sum(calories), 0) AS calories
        FROM {{rows}}
        GROUP BY 1, 2, 3
    ) AS g
    WHERE t.organization_id = g.organization_id AND t.day = g.day AND t.kind = g.kind;
    DELETE FROM {DAY_TOTALS} AS t
    USING (SELECT DISTINCT organization_id, {_DAY} AS day, kind FROM {{rows}}) AS g
    WHERE t.organization_id = g.organization_id AND t.day = g.day AND t.kind = g.kind
      AND t.workouts = 0;
"""  # noqa: S608 - the names are this module's constants

# The member-years a statement's rows touched (``{rows}``, filled in with the rest), and how a
# member-year row ``t`` is one of them.
_TOUCHED_MEMBER_YEARS = """(
        SELECT DISTINCT organization_id, kind, user_id,
               extract(year FROM performed_at AT TIME ZONE 'UTC')::int AS year
        FROM {rows}
    ) AS g"""
_SAME_MEMBER_YEAR = (
    "t.organization_id = g.organization_id AND t.year = g.year AND t.kind = g.kind "
    "AND t.user_id = g.user_id"
)

# Rebuilt from the workouts left (an AFTER trigger sees the statement's own changes); the
# (organization_id, kind, user_id) index of migration 0006 finds a member's workouts of a
# kind. A member-year with no workout left becomes all zeros and is then deleted.
#
# The member-years are locked first, in a statement of their own: the rebuild's statement
# then starts (READ COMMITTED: a new snapshot) once every transaction that had set a bit in
# them has committed, so it sees that transaction's workouts. Rebuilt while waiting on the
# lock inside the UPDATE instead, the rebuild would read the workouts of its older snapshot
# and drop the other transaction's bits (the test of a delete and an insert at once). The
# order makes two deletes lock their rows in the same order, without deadlocking.
_REBUILD_MEMBER_YEARS = f"""
    PERFORM 1 FROM {MEMBER_YEARS} AS t
    JOIN {_TOUCHED_MEMBER_YEARS}
    ON {_SAME_MEMBER_YEAR}
    ORDER BY t.organization_id, t.year, t.kind, t.user_id
    FOR UPDATE OF t;
    UPDATE {MEMBER_YEARS} AS t SET days = coalesce((
        SELECT bit_or(set_bit({{zero}}, extract(doy FROM {_DAY})::int - 1, 1))
        FROM workouts AS w
        WHERE w.organization_id = t.organization_id AND w.kind = t.kind
          AND w.user_id = t.user_id
          AND w.performed_at >= make_timestamptz(t.year, 1, 1, 0, 0, 0, 'UTC')
          AND w.performed_at < make_timestamptz(t.year + 1, 1, 1, 0, 0, 0, 'UTC')
    ), {{zero}})
    FROM {_TOUCHED_MEMBER_YEARS}
    WHERE {_SAME_MEMBER_YEAR};
    DELETE FROM {MEMBER_YEARS} AS t
    USING {_TOUCHED_MEMBER_YEARS}
    WHERE {_SAME_MEMBER_YEAR} AND t.days = {{zero}};
"""  # noqa: S608 - the names are this module's constants

_ZERO = "repeat('0', 366)::bit(366)"


def _added(rows: str, zero: str) -> str:
    return _ADD_DAY_TOTALS.format(rows=rows) + _ADD_MEMBER_YEARS.format(rows=rows, zero=zero)


def _removed(rows: str) -> str:
    return _SUBTRACT_DAY_TOTALS.format(rows=rows) + _REBUILD_MEMBER_YEARS.format(
        rows=rows, zero="zero"
    )


#: (trigger and function name, event, REFERENCING clause, body)
_TRIGGERS = (
    (
        "workouts_read_model_insert",
        "INSERT",
        "REFERENCING NEW TABLE AS new_rows",
        _added("new_rows", "zero"),
    ),
    (
        "workouts_read_model_delete",
        "DELETE",
        "REFERENCING OLD TABLE AS old_rows",
        _removed("old_rows"),
    ),
    (
        "workouts_read_model_update",
        "UPDATE",
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        # Old rows out first: the rebuild reads the workouts as they now are (new rows
        # included), and adding the new rows' bits again after it changes nothing.
        _removed("old_rows") + _added("new_rows", "zero"),
    ),
    # Statement triggers have no transition tables for TRUNCATE; nothing is left to derive.
    ("workouts_read_model_truncate", "TRUNCATE", "", f"TRUNCATE {DAY_TOTALS}, {MEMBER_YEARS};"),
)


#: Builds the read model again from the workouts: the backfill, and the remedy should anything
#: ever write the workouts with triggers off (``session_replication_role = replica``, a
#: data-only restore of ``workouts`` alone); see docs/operations.md.
REBUILD = "workouts_read_model_rebuild"
_REBUILD_ALL = (
    # Writers wait (readers do not) until the read model is whole again: a workout written in
    # between would be missing from it, or counted twice.
    "LOCK TABLE workouts IN SHARE MODE; "
    f"TRUNCATE {DAY_TOTALS}, {MEMBER_YEARS}; "
    + _ADD_DAY_TOTALS.format(rows="workouts")
    + " GET DIAGNOSTICS written = ROW_COUNT; "
    # One grouped pass over the table per read-model table.
    + _ADD_MEMBER_YEARS.format(rows="workouts", zero="zero")
)


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for statement in _TABLES:
        op.execute(statement)
    for name, event, referencing, body in _TRIGGERS:
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"DECLARE zero constant bit(366) := {_ZERO}; "
            f"BEGIN {body} RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON workouts {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    op.execute(
        f"CREATE FUNCTION {REBUILD}() RETURNS integer LANGUAGE plpgsql AS $$ "
        f"DECLARE zero constant bit(366) := {_ZERO}; written integer; "
        f"BEGIN {_REBUILD_ALL} RETURN written; END $$"
    )
    # The workouts already there.
    filled = op.get_bind().exec_driver_sql(f"SELECT {REBUILD}()").scalar()
    if filled:
        # Planned as empty tables otherwise until autovacuum comes by; a new database has
        # nothing to analyse (and its tables are analysed after their first bulk load).
        op.execute(f"ANALYZE {DAY_TOTALS}, {MEMBER_YEARS}")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(f"DROP FUNCTION {REBUILD}()")
    for name, *_ in reversed(_TRIGGERS):
        op.execute(f"DROP TRIGGER {name} ON workouts")
        op.execute(f"DROP FUNCTION {name}()")
    op.execute(f"DROP TABLE {MEMBER_YEARS}, {DAY_TOTALS}")
