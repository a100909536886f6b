"""Staged members applied inside Postgres, set-based: the rules of ``merge_members`` in SQL.

The Python rules (:func:`fitdata_core.rules.import_merge.merge_members`) are the reference;
this is the same decision made where the rows are, so a batch of thousands of staged rows
costs a handful of statements and no row travels to Python and back:

1. ``import_batch`` (a temporary table, dropped at commit): one row per staged row of the
   batch, joined with what is stored for its email (user, membership and profile here) and
   its plan (and, for a user whose fields differ, whether they belong to another
   organization), plus the decisions: duplicate email in the batch (the first row wins),
   unknown plan name, and which of user, membership and profile change. New ids come from
   ``gen_random_uuid()`` (UUID strings, like the application's ids).
2. One statement per write: insert new users, update changed users, insert new memberships,
   update changed memberships, insert new profiles, update changed profiles. Every update
   keeps a stored value the source does not give (``COALESCE``) and touches only rows whose
   values differ, so an identical re-import writes nothing.
3. The undo log (``import_changes``): one ``INSERT … SELECT`` of every created and updated
   row with its tracked values before and after, in source order.
4. The counts and the row problems, read back from ``import_batch``.

A user or membership that appeared between step 1 and its insert (someone signed up
meanwhile) makes the insert skip it; the count tells, and ``Conflict`` makes the engine
retry the batch, which then sees it, as the Python path does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fitdata_adapters.db.repositories.base import SqlSession
from fitdata_adapters.db.tables import STAGED_MEMBER_FIELDS
from fitdata_core.errors import Conflict
from fitdata_core.model.imports import Tally
from fitdata_core.rules.import_merge import (
    CREATED,
    ENRICH_FIELDS,
    UPDATED,
    AppliedMembers,
    RowChange,
    duplicate_email,
    unknown_plan,
)

_RACE = "Another writer added the same rows meanwhile; the batch is retried."

#: The undo log's entity for a member whose user, membership and profile a batch created.
NEW_MEMBER = "member"

# The staged record's fields (MemberRecord.to_dict()) with their SQL types.
_RECORD = (
    "external_id text, email text, first_name text, last_name text, phone text, status text, "
    "birth_date text, gender text, plan_name text, start_date text, end_date text"
)

# A member record is staged in typed columns (m_<field>); one staged as JSON is read from it.
_STAGED = ", ".join(
    f"CASE WHEN s.data IS NULL THEN s.m_{n} ELSE d.{n} END AS {n}" for n in STAGED_MEMBER_FIELDS
)

_ENRICH_OLD = ", ".join(f"p.{n} AS p_{n}" for n in ENRICH_FIELDS)

_BATCH = f"""
CREATE TEMPORARY TABLE import_batch ON COMMIT DROP AS
WITH src AS (
    SELECT s.seq, {_STAGED}
    FROM import_staging AS s
    LEFT JOIN LATERAL jsonb_to_record(s.data) AS d({_RECORD}) ON s.data IS NOT NULL
    WHERE s.job_id = :job AND s.entity = 'members' AND s.seq >= :lo
    ORDER BY s.seq
    LIMIT :lim
), ranked AS (
    SELECT src.*, row_number() OVER (PARTITION BY email ORDER BY seq) > 1 AS dup FROM src
), joined AS (
    SELECT r.*,
        pl.id AS plan_id,
        (r.plan_name IS NOT NULL AND pl.id IS NULL) AS plan_missing,
        u.id AS u_id, u.first_name AS u_first_name, u.last_name AS u_last_name,
        u.phone AS u_phone,
        m.id AS m_id, m.role AS m_role, m.status AS m_status, m.plan_id AS m_plan_id,
        m.start_date AS m_start_date, m.end_date AS m_end_date,
        (p.user_id IS NOT NULL) AS p_exists, p.birth_date AS p_birth_date,
        p.gender AS p_gender, p.external_source AS p_external_source,
        p.external_id AS p_external_id, {_ENRICH_OLD}
    FROM ranked AS r
    LEFT JOIN plans AS pl ON NOT r.dup AND pl.organization_id = :org AND pl.name = r.plan_name
    LEFT JOIN users AS u ON NOT r.dup AND u.email = r.email
    LEFT JOIN memberships AS m ON m.organization_id = :org AND m.user_id = u.id
    LEFT JOIN member_profiles AS p ON p.organization_id = :org AND p.user_id = u.id
), decided AS (
    SELECT j.*,
        -- An owner's or admin's status is never changed by an import.
        CASE WHEN j.m_role IN ('owner', 'admin') THEN NULL ELSE j.status END AS w_status
    FROM joined AS j
)
SELECT d.*,
    -- New ids here, not in ``decided``: a volatile function there would have Postgres
    -- materialize every joined row once more before this select reads them.
    COALESCE(d.u_id, gen_random_uuid()::text) AS user_id,
    COALESCE(d.m_id, gen_random_uuid()::text) AS membership_id,
    -- A user who belongs to another organization too keeps their fields: looked up last,
    -- only for a row whose user fields differ (none in an identical re-import).
    (d.u_id IS NOT NULL AND (
        (d.first_name IS NOT NULL AND d.first_name IS DISTINCT FROM d.u_first_name)
        OR (d.last_name IS NOT NULL AND d.last_name IS DISTINCT FROM d.u_last_name)
        OR (d.phone IS NOT NULL AND d.phone IS DISTINCT FROM d.u_phone)
    ) AND NOT EXISTS (
        SELECT 1 FROM memberships AS o WHERE o.user_id = d.u_id AND o.organization_id <> :org
    )) AS user_changed,
    (d.m_id IS NOT NULL AND (
        (d.w_status IS NOT NULL AND d.w_status IS DISTINCT FROM d.m_status)
        OR (d.plan_id IS NOT NULL AND d.plan_id IS DISTINCT FROM d.m_plan_id)
        OR (d.start_date IS NOT NULL AND d.start_date IS DISTINCT FROM d.m_start_date)
        OR (d.end_date IS NOT NULL AND d.end_date IS DISTINCT FROM d.m_end_date)
    )) AS membership_changed,
    (d.p_exists AND (
        (d.birth_date IS NOT NULL AND d.birth_date IS DISTINCT FROM d.p_birth_date)
        OR (d.gender IS NOT NULL AND d.gender IS DISTINCT FROM d.p_gender)
        OR (:source IS DISTINCT FROM d.p_external_source)
        OR (d.external_id IS NOT NULL AND d.external_id IS DISTINCT FROM d.p_external_id)
    )) AS profile_changed
FROM decided AS d
"""  # noqa: S608 - built from constants; values are bound parameters

_NEW_USERS = """
INSERT INTO users (id, email, first_name, last_name, phone, is_platform_admin, created_at)
SELECT user_id, email, first_name, last_name, phone, false, :now
FROM import_batch WHERE NOT dup AND u_id IS NULL ORDER BY seq
ON CONFLICT (email) DO NOTHING
"""

_CHANGED_USERS = """
UPDATE users AS u SET
    first_name = COALESCE(b.first_name, u.first_name),
    last_name = COALESCE(b.last_name, u.last_name),
    phone = COALESCE(b.phone, u.phone)
FROM import_batch AS b
WHERE b.user_changed AND u.id = b.u_id
"""

_NEW_MEMBERSHIPS = """
INSERT INTO memberships
    (id, organization_id, user_id, role, status, plan_id, start_date, end_date, created_at)
SELECT membership_id, :org, user_id, 'member', status, plan_id, start_date, end_date, :now
FROM import_batch WHERE NOT dup AND m_id IS NULL ORDER BY seq
ON CONFLICT (organization_id, user_id) DO NOTHING
"""

_CHANGED_MEMBERSHIPS = """
UPDATE memberships AS m SET
    status = COALESCE(b.w_status, m.status),
    plan_id = COALESCE(b.plan_id, m.plan_id),
    start_date = COALESCE(b.start_date, m.start_date),
    end_date = COALESCE(b.end_date, m.end_date)
FROM import_batch AS b
WHERE b.membership_changed AND m.id = b.m_id
"""

_NEW_PROFILES = """
INSERT INTO member_profiles
    (organization_id, user_id, birth_date, gender, external_source, external_id, updated_at)
SELECT :org, user_id, birth_date, gender, :source, external_id, :now
FROM import_batch WHERE NOT dup AND NOT p_exists ORDER BY seq
ON CONFLICT (organization_id, user_id) DO NOTHING
"""

_CHANGED_PROFILES = """
UPDATE member_profiles AS p SET
    birth_date = COALESCE(b.birth_date, p.birth_date),
    gender = COALESCE(b.gender, p.gender),
    external_source = :source,
    external_id = COALESCE(b.external_id, p.external_id),
    updated_at = :now
FROM import_batch AS b
WHERE b.profile_changed AND p.organization_id = :org AND p.user_id = b.u_id
"""


def _object(values: dict[str, str]) -> str:
    return "jsonb_build_object(" + ", ".join(f"'{k}', {v}" for k, v in values.items()) + ")"


# The tracked fields (import_merge.TRACKED_FIELDS) after and before, as undo keeps them.
_USER_AFTER = _object(
    {
        "first_name": "COALESCE(first_name, u_first_name)",
        "last_name": "COALESCE(last_name, u_last_name)",
        "phone": "COALESCE(phone, u_phone)",
    }
)
_USER_BEFORE = _object(
    {"first_name": "u_first_name", "last_name": "u_last_name", "phone": "u_phone"}
)
_USER_NEW = _object({"first_name": "first_name", "last_name": "last_name", "phone": "phone"})
_MEMBERSHIP_AFTER = _object(
    {
        "role": "m_role",
        "status": "COALESCE(w_status, m_status)",
        "plan_id": "COALESCE(plan_id, m_plan_id)",
        "start_date": "COALESCE(start_date, m_start_date)",
        "end_date": "COALESCE(end_date, m_end_date)",
    }
)
_MEMBERSHIP_BEFORE = _object(
    {
        "role": "m_role",
        "status": "m_status",
        "plan_id": "m_plan_id",
        "start_date": "m_start_date",
        "end_date": "m_end_date",
    }
)
_MEMBERSHIP_NEW = _object(
    {
        "role": "'member'",
        "status": "status",
        "plan_id": "plan_id",
        "start_date": "start_date",
        "end_date": "end_date",
    }
)
_ENRICH_KEPT = {n: f"p_{n}" for n in ENRICH_FIELDS}
_PROFILE_AFTER = _object(
    {
        "birth_date": "COALESCE(birth_date, p_birth_date)",
        "gender": "COALESCE(gender, p_gender)",
        "external_source": "CAST(:source AS text)",
        "external_id": "COALESCE(external_id, p_external_id)",
        **_ENRICH_KEPT,
    }
)
_PROFILE_BEFORE = _object(
    {
        "birth_date": "p_birth_date",
        "gender": "p_gender",
        "external_source": "p_external_source",
        "external_id": "p_external_id",
        **_ENRICH_KEPT,
    }
)
_PROFILE_CREATED = {
    "birth_date": "birth_date",
    "gender": "gender",
    "external_source": "CAST(:source AS text)",
    "external_id": "external_id",
}
_PROFILE_NEW = _object({**_PROFILE_CREATED, **dict.fromkeys(ENRICH_FIELDS, "CAST(NULL AS text)")})
# A new member's profile in its ``NEW_MEMBER`` row: the enrichment fields, empty in every
# profile an import creates, are left out and put back by :func:`expand_change` (a fifth of
# the cost of building a first import's undo log went to writing them).
_NEW_MEMBER_PROFILE = _object(_PROFILE_CREATED)

# One row per change, in the order the Python rules record them: per source row, the user,
# then the membership, then the profile. A member new in every way (user, membership and
# profile created: most rows of a first import) is one row of its own kind, ``NEW_MEMBER``,
# that :func:`expand_change` reads back as those three changes: a third of the undo log's
# writes.
_CHANGES = f"""
INSERT INTO import_changes (job_id, entity, row_key, action, before_values, after_values)
SELECT :job, entity, row_key, action, before_values, after_values FROM (
    SELECT seq, 0 AS k, '{NEW_MEMBER}' AS entity, user_id AS row_key, '{CREATED}' AS action,
        CAST(NULL AS jsonb) AS before_values,
        jsonb_build_object(
            'user', {_USER_NEW}, 'membership_id', membership_id,
            'membership', {_MEMBERSHIP_NEW}, 'profile', {_NEW_MEMBER_PROFILE}
        ) AS after_values
    FROM import_batch WHERE NOT dup AND u_id IS NULL
    UNION ALL
    SELECT seq, 0, 'user', u_id, '{UPDATED}', {_USER_BEFORE}, {_USER_AFTER}
    FROM import_batch WHERE user_changed
    UNION ALL
    SELECT seq, 1, 'membership', membership_id, '{CREATED}', NULL, {_MEMBERSHIP_NEW}
    FROM import_batch WHERE NOT dup AND m_id IS NULL AND u_id IS NOT NULL
    UNION ALL
    SELECT seq, 1, 'membership', m_id, '{UPDATED}', {_MEMBERSHIP_BEFORE}, {_MEMBERSHIP_AFTER}
    FROM import_batch WHERE membership_changed
    UNION ALL
    SELECT seq, 2, 'profile', user_id, '{CREATED}', NULL, {_PROFILE_NEW}
    FROM import_batch WHERE NOT dup AND NOT p_exists AND u_id IS NOT NULL
    UNION ALL
    SELECT seq, 2, 'profile', u_id, '{UPDATED}', {_PROFILE_BEFORE}, {_PROFILE_AFTER}
    FROM import_batch WHERE profile_changed
) AS c
ORDER BY seq, k
"""  # noqa: S608 - built from constants; values are bound parameters


def expand_change(change: RowChange) -> list[RowChange]:
    """The changes one undo-log row stands for: a ``NEW_MEMBER`` row is three (user,
    membership, profile created, its empty enrichment fields put back); any other row is
    itself."""
    if change.entity != NEW_MEMBER:
        return [change]
    after = change.after
    profile = dict(after["profile"])
    for name in ENRICH_FIELDS:  # after the others, as the rules order them
        profile.setdefault(name, None)
    return [
        RowChange("user", change.key, CREATED, dict(after["user"])),
        RowChange("membership", str(after["membership_id"]), CREATED, dict(after["membership"])),
        RowChange("profile", change.key, CREATED, profile),
    ]


_COUNTS = """
SELECT
    count(*) AS rows,
    COALESCE(max(seq), -1) AS last,
    count(*) FILTER (WHERE dup) AS skipped,
    count(*) FILTER (WHERE NOT dup AND m_id IS NULL) AS created,
    count(*) FILTER (
        WHERE NOT dup AND m_id IS NOT NULL
        AND (user_changed OR membership_changed OR profile_changed OR NOT p_exists)
    ) AS updated,
    count(*) FILTER (WHERE NOT dup AND m_id IS NULL AND u_id IS NULL) AS new_users,
    count(*) FILTER (WHERE NOT dup AND m_id IS NULL) AS new_memberships,
    count(*) FILTER (WHERE NOT dup AND NOT p_exists) AS new_profiles,
    count(*) FILTER (WHERE user_changed) AS changed_users,
    count(*) FILTER (WHERE membership_changed) AS changed_memberships,
    count(*) FILTER (WHERE profile_changed) AS changed_profiles,
    count(*) FILTER (WHERE dup OR plan_missing) AS problems
FROM import_batch
"""

_PROBLEMS = """
SELECT seq, dup, external_id, email, plan_name FROM import_batch
WHERE dup OR plan_missing ORDER BY seq
"""


class Batch:
    """One batch on its way: the statement parameters, and the counts step 1 decided."""

    def __init__(self, db: SqlSession, params: dict[str, Any]) -> None:
        self.db = db
        self.params = params
        self.counts: dict[str, int] = {}

    async def run(self, sql: str) -> Any:
        names = {name for name in self.params if f":{name}" in sql}
        return await self.db.execute(sa.text(sql), {n: self.params[n] for n in names})


async def decide(
    db: SqlSession,
    job_id: str,
    org_id: str,
    *,
    from_seq: int,
    limit: int,
    source: str,
    now: datetime,
) -> Batch:
    """Step 1: the batch's decisions into ``import_batch`` (this transaction's own)."""
    batch = Batch(
        db,
        {"job": job_id, "org": org_id, "lo": from_seq, "lim": limit, "source": source, "now": now},
    )
    # Two planner settings for this transaction, in one round trip:
    # - ``jit`` off: the decision's estimated cost is over Postgres's JIT threshold, so by
    #   default every batch compiled it to machine code first: 50-170 ms of a 10,000-row
    #   batch's 0.3-0.6 s (EXPLAIN ANALYZE), never won back by a statement this short;
    # - ``random_page_cost`` 1.1 (the usual value for a database whose pages are cached or
    #   on SSD, against the default 4 for spinning disks): with the default, the planner
    #   read every user of the platform into a hash table for each batch rather than find
    #   the batch's emails in the users' email index; with 1.1 it merges the two in email
    #   order (a 10,000-row batch of a 100,000-member gym: 124 against 152 ms).
    await batch.run(
        "SELECT set_config('jit', 'off', true), set_config('random_page_cost', '1.1', true)"
    )
    await batch.run(_BATCH)
    counts = (await batch.run(_COUNTS)).mappings().one()
    batch.counts = {k: int(v) for k, v in counts.items()}
    if any(batch.counts[k] for k in ("changed_users", "changed_memberships", "changed_profiles")):
        # The planner knows nothing of a fresh temporary table; an update joining it to a
        # big table needs its row count to pick the index.
        await batch.run("ANALYZE import_batch")
    return batch


async def write(batch: Batch) -> AppliedMembers:
    """Steps 2 to 4: the writes, the undo log, and what was done; raises ``Conflict`` when a
    row it inserts appeared since :func:`decide`."""
    counts = batch.counts
    if counts["rows"] == 0:
        await batch.run("DROP TABLE import_batch")
        return AppliedMembers(rows=0, end=int(batch.params["lo"]), tally=Tally())
    # A statement with nothing to do is skipped: an identical re-import is two statements.
    if counts["new_users"] and (await batch.run(_NEW_USERS)).rowcount != counts["new_users"]:
        raise Conflict(_RACE)
    if counts["changed_users"]:
        await batch.run(_CHANGED_USERS)
    new_memberships = counts["new_memberships"]
    if new_memberships and (await batch.run(_NEW_MEMBERSHIPS)).rowcount != new_memberships:
        raise Conflict(_RACE)
    if counts["changed_memberships"]:
        await batch.run(_CHANGED_MEMBERSHIPS)
    if counts["new_profiles"]:
        await batch.run(_NEW_PROFILES)
    if counts["changed_profiles"]:
        await batch.run(_CHANGED_PROFILES)
    changed = sum(counts[k] for k in ("changed_users", "changed_memberships", "changed_profiles"))
    if new_memberships or counts["new_profiles"] or changed:
        await batch.run(_CHANGES)
    problems = []
    if counts["problems"]:
        problems = [
            duplicate_email(r["external_id"], r["email"])
            if r["dup"]
            else unknown_plan(r["external_id"], r["email"], r["plan_name"])
            for r in (await batch.run(_PROBLEMS)).mappings()
        ]
    await batch.run("DROP TABLE import_batch")
    rows = counts["rows"]
    created, updated, skipped = counts["created"], counts["updated"], counts["skipped"]
    tally = Tally(
        created=created,
        updated=updated,
        skipped=skipped,
        unchanged=rows - created - updated - skipped,
    )
    return AppliedMembers(rows=rows, end=counts["last"] + 1, tally=tally, problems=problems)
