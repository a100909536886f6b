"""The import engine's SQL repository (``uow.imports``): staging, batch reads and writes, undo.

Every method is a fixed number of statements per batch, never one per row: the reads are
``IN`` lists of at most a batch, inserts are multi-row ``INSERT``s, updates are one
statement executed for the batch's parameter sets. Writes guard themselves: an update only
touches a row whose values differ (``IS DISTINCT FROM``; SQLite spells it ``IS NOT``), and
profiles go in with ``INSERT … ON CONFLICT … DO UPDATE … WHERE … IS DISTINCT FROM``, so a
batch applied twice (a take-over after a crash) writes nothing the second time.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.errors import translate_errors
from fitdata_adapters.db.repositories import pg_bulk, pg_member_apply
from fitdata_adapters.db.repositories.base import SqlRepository
from fitdata_adapters.db.repositories.catalog import _lead, _lead_values, _plan, _plan_values
from fitdata_adapters.db.repositories.organizations import (
    _membership,
    _membership_values,
    _profile,
    _profile_values,
    _user,
    _user_values,
)
from fitdata_core.errors import Conflict
from fitdata_core.model.catalog import Lead, Plan
from fitdata_core.model.organizations import MemberProfile, Membership, normalize_email
from fitdata_core.ports.imports import StagedRecord
from fitdata_core.rules.import_merge import (
    ENRICH_FIELDS,
    TRACKED_FIELDS,
    AppliedMembers,
    ExistingMember,
    LeadWrites,
    MemberWrites,
    PlanWrites,
    RowChange,
    lead_key,
)
from fitdata_core.rules.import_values import MemberRecord

_TABLES: Mapping[str, sa.Table] = {
    "user": t.users,
    "membership": t.memberships,
    "profile": t.member_profiles,
    "plan": t.plans,
    "lead": t.leads,
}

_RACE = "Another writer added the same rows meanwhile; the batch is retried."


_MEMBER_COLUMNS = tuple(f"m_{n}" for n in t.STAGED_MEMBER_FIELDS)
_MEMBER_KEYS = frozenset(t.STAGED_MEMBER_FIELDS)


_MEMBER_VALUES = operator.itemgetter(*t.STAGED_MEMBER_FIELDS)
_PLAIN_TEXT = frozenset({str, type(None)})


def _member_values(data: Mapping[str, Any]) -> tuple[str | None, ...] | None:
    """A member record's dict (``MemberRecord.to_dict()``) as its typed columns' values in
    order, or None for a dict of any other shape. Once per staged row: the common case
    (plain strings and None) is decided by C calls alone, a ``str`` subclass the slow way."""
    if data.keys() != _MEMBER_KEYS:
        return None
    values: tuple[str | None, ...] = _MEMBER_VALUES(data)
    if _PLAIN_TEXT.issuperset(map(type, values)) or all(
        v is None or isinstance(v, str) for v in values
    ):
        return values
    return None


def _distinct(table: sa.Table, names: Sequence[str]) -> sa.ColumnElement[bool]:
    """Some column differs from its bound parameter (``b_<name>``)."""
    return sa.or_(*(table.c[n].is_distinct_from(sa.bindparam(f"b_{n}")) for n in names))


def _bound(values: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {f"b_{n}": values[n] for n in names}


class SqlImportData(SqlRepository):
    def _insert(self, table: sa.Table) -> Any:
        return postgresql.insert(table) if self._db.is_postgres else sqlite.insert(table)

    async def _insert_new(
        self, table: sa.Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
    ) -> None:
        """Insert ``rows``; raise ``Conflict`` when any clashed with a row that appeared
        since the batch read (so the batch is retried and sees it)."""
        if not rows:
            return
        if self._db.is_postgres:
            inserted = await pg_bulk.insert_rows(
                self._db, table, rows, conflict=keys, returning=keys[0]
            )
        else:
            statement = (
                self._insert(table)
                .on_conflict_do_nothing(index_elements=list(keys))
                .returning(table.c[keys[0]])
            )
            inserted = len((await self._many(statement, rows)).all())
        if inserted != len(rows):
            raise Conflict(_RACE)

    async def _many(self, statement: Any, rows: Sequence[Mapping[str, Any]]) -> Any:
        """``statement`` once per row, sent as one batch: compiled once, and turned into
        multi-row ``INSERT``s by SQLAlchemy's "insertmanyvalues" where it applies."""
        with translate_errors():
            return await self._db.conn.execute(statement, list(rows))

    async def _update_changed(
        self,
        table: sa.Table,
        key: Mapping[str, str],
        rows: Sequence[dict[str, Any]],
        names: Sequence[str],
    ) -> None:
        """One UPDATE for all ``rows``: set ``names`` where the row (found by ``key``: column
        -> value name) differs."""
        if not rows:
            return
        if self._db.is_postgres:
            await pg_bulk.update_rows(self._db, table, list(key), rows, names)
            return
        statement = (
            table.update()
            .where(
                *(table.c[col] == sa.bindparam(f"k_{col}") for col in key), _distinct(table, names)
            )
            .values({n: sa.bindparam(f"b_{n}") for n in names})
        )
        params = [
            {**{f"k_{col}": row[src] for col, src in key.items()}, **_bound(row, names)}
            for row in rows
        ]
        with translate_errors():
            await self._db.conn.execute(statement, params)

    # --- staging --------------------------------------------------------------------------

    async def stage(
        self, job_id: str, entity: str, rows: Sequence[tuple[int, StagedRecord]]
    ) -> None:
        if not rows:
            return
        typed: list[tuple[int, tuple[str | None, ...]]] = []
        other: list[tuple[int, Mapping[str, Any]]] = []
        for seq, data in rows:  # each row's shape checked once
            if isinstance(data, MemberRecord):
                typed.append((seq, data.columns()))
                continue
            member = _member_values(data) if entity == "members" else None
            if member is None:
                other.append((seq, data))
            else:
                typed.append((seq, member))
        if self._db.is_postgres:
            # COPY, a stream whatever the chunk size; member records in their own columns.
            if typed:
                await pg_bulk.copy_rows(
                    self._db,
                    t.import_staging,
                    ("job_id", "entity", "seq", *_MEMBER_COLUMNS),
                    ((job_id, entity, s, *v) for s, v in typed),
                )
            if other:
                await pg_bulk.copy_rows(
                    self._db,
                    t.import_staging,
                    ("job_id", "entity", "seq", "data"),
                    ((job_id, entity, s, json.dumps(d, default=str)) for s, d in other),
                )
            return
        params: list[dict[str, Any]] = [
            {
                "job_id": job_id,
                "entity": entity,
                "seq": s,
                "data": None,
                **dict(zip(_MEMBER_COLUMNS, v, strict=True)),
            }
            for s, v in typed
        ]
        params += [
            {
                "job_id": job_id,
                "entity": entity,
                "seq": s,
                "data": dict(d),
                **dict.fromkeys(_MEMBER_COLUMNS),
            }
            for s, d in other
        ]
        await self._many(t.import_staging.insert(), params)

    async def staged(
        self, job_id: str, entity: str, *, from_seq: int, limit: int
    ) -> list[tuple[int, dict[str, Any]]]:
        s = t.import_staging
        rows = await self._db.all(
            sa.select(s.c.seq, s.c.data, *(s.c[c] for c in _MEMBER_COLUMNS))
            .where(s.c.job_id == job_id, s.c.entity == entity, s.c.seq >= from_seq)
            .order_by(s.c.seq)
            .limit(limit)
        )
        return [
            (
                int(r["seq"]),
                dict(r["data"])
                if r["data"] is not None
                else {n: r[f"m_{n}"] for n in t.STAGED_MEMBER_FIELDS},
            )
            for r in rows
        ]

    async def drop_staged(
        self, job_id: str, *, entity: str | None = None, from_seq: int = 0
    ) -> None:
        s = t.import_staging
        statement = s.delete().where(s.c.job_id == job_id, s.c.seq >= from_seq)
        if entity is not None:
            statement = statement.where(s.c.entity == entity)
        await self._db.execute(statement)

    # --- reads ----------------------------------------------------------------------------

    async def existing_members(
        self, org_id: str, emails: Sequence[str]
    ) -> dict[str, ExistingMember]:
        wanted = sorted({normalize_email(e) for e in emails})
        if not wanted:
            return {}
        users = [
            _user(r)
            for r in await self._db.all(sa.select(t.users).where(t.users.c.email.in_(wanted)))
        ]
        if not users:
            return {}
        ids = [u.id for u in users]
        m, p = t.memberships, t.member_profiles
        memberships = [
            _membership(r) for r in await self._db.all(sa.select(m).where(m.c.user_id.in_(ids)))
        ]
        profiles = {
            row["user_id"]: _profile(row)
            for row in await self._db.all(
                sa.select(p).where(p.c.organization_id == org_id, p.c.user_id.in_(ids))
            )
        }
        by_user: dict[str, list[Membership]] = {}
        for membership in memberships:
            by_user.setdefault(membership.user_id, []).append(membership)
        found: dict[str, ExistingMember] = {}
        for user in users:
            mine = by_user.get(user.id, [])
            found[user.email_normalized] = ExistingMember(
                user=user,
                in_other_orgs=any(x.organization_id != org_id for x in mine),
                membership=next((x for x in mine if x.organization_id == org_id), None),
                profile=profiles.get(user.id),
            )
        return found

    async def plans_by_name(
        self, org_id: str, names: Sequence[str] | None = None
    ) -> dict[str, Plan]:
        p = t.plans
        query = sa.select(p).where(p.c.organization_id == org_id)
        if names is not None:
            query = query.where(p.c.name.in_(sorted(set(names))))
        return {row["name"]: _plan(row) for row in await self._db.all(query)}

    async def leads_by_key(
        self, org_id: str, emails: Sequence[str], phones: Sequence[str]
    ) -> dict[str, Lead]:
        le = t.leads
        conditions: list[sa.ColumnElement[bool]] = []
        if emails:
            conditions.append(
                le.c.email_normalized.in_(sorted({normalize_email(e) for e in emails}))
            )
        if phones:
            conditions.append(
                sa.and_(le.c.email_normalized.is_(None), le.c.phone.in_(sorted(set(phones))))
            )
        if not conditions:
            return {}
        rows = await self._db.all(
            sa.select(le)
            .where(le.c.organization_id == org_id, sa.or_(*conditions))
            .order_by(le.c.created_at, le.c.id)
        )
        found: dict[str, Lead] = {}
        for row in rows:
            lead = _lead(row)
            email = row["email_normalized"]
            found.setdefault(lead_key(email, None if email else lead.phone), lead)
        return found

    # --- writes ---------------------------------------------------------------------------

    async def apply_staged_members(
        self,
        job_id: str,
        org_id: str,
        *,
        from_seq: int,
        limit: int,
        source: str,
        now: datetime,
    ) -> AppliedMembers | None:
        if not self._db.is_postgres:
            return None  # SQLite: the engine decides in Python and writes with write_members
        batch = await pg_member_apply.decide(
            self._db, job_id, org_id, from_seq=from_seq, limit=limit, source=source, now=now
        )
        return await self._write_decided(batch)

    async def _write_decided(self, batch: pg_member_apply.Batch) -> AppliedMembers:
        """The writes of a decided batch (a seam: a test races a sign-up in before them)."""
        return await pg_member_apply.write(batch)

    async def write_members(self, writes: MemberWrites) -> None:
        await self._insert_new(t.users, [_user_values(u) for u in writes.new_users], ["email"])
        await self._update_changed(
            t.users,
            {"id": "id"},
            [_user_values(u) for u in writes.updated_users],
            TRACKED_FIELDS["user"],
        )
        await self._insert_new(
            t.memberships,
            [_membership_values(m) for m in writes.new_memberships],
            ["organization_id", "user_id"],
        )
        await self._update_changed(
            t.memberships,
            {"id": "id"},
            [_membership_values(m) for m in writes.updated_memberships],
            ("status", "plan_id", "start_date", "end_date"),
        )
        profiles = [_profile_values(p) for p in (*writes.new_profiles, *writes.updated_profiles)]
        if profiles:
            p = t.member_profiles
            names = [*TRACKED_FIELDS["profile"], "updated_at"]
            compared = TRACKED_FIELDS["profile"]
            if self._db.is_postgres:
                await pg_bulk.insert_rows(
                    self._db,
                    p,
                    profiles,
                    conflict=["organization_id", "user_id"],
                    update=names,
                    compare=compared,
                )
                return
            statement = self._insert(p)
            statement = statement.on_conflict_do_update(
                index_elements=["organization_id", "user_id"],
                set_={n: statement.excluded[n] for n in names},
                where=sa.or_(*(p.c[n].is_distinct_from(statement.excluded[n]) for n in compared)),
            )
            await self._many(statement, profiles)

    async def write_plans(self, writes: PlanWrites) -> None:
        await self._insert_new(
            t.plans, [_plan_values(p) for p in writes.new_plans], ["organization_id", "name"]
        )
        await self._update_changed(
            t.plans,
            {"id": "id"},
            [_plan_values(p) for p in writes.updated_plans],
            ("price_amount", "price_currency", "session_count", "validity_days", "external_id"),
        )

    async def write_leads(self, writes: LeadWrites) -> None:
        if writes.new_leads:
            leads = [_lead_values(x) for x in writes.new_leads]
            if self._db.is_postgres:
                await pg_bulk.insert_rows(self._db, t.leads, leads)
            else:
                await self._many(t.leads.insert(), leads)
        await self._update_changed(
            t.leads,
            {"id": "id"},
            [_lead_values(x) for x in writes.updated_leads],
            (*TRACKED_FIELDS["lead"], "email_normalized"),
        )

    async def imported_profiles(
        self, org_id: str, source: str, *, offset: int, limit: int
    ) -> list[MemberProfile]:
        p = t.member_profiles
        rows = await self._db.all(
            sa.select(p)
            .where(
                p.c.organization_id == org_id,
                p.c.external_source == source,
                p.c.external_id.is_not(None),
            )
            .order_by(p.c.user_id)
            .offset(offset)
            .limit(limit)
        )
        return [_profile(row) for row in rows]

    async def fill_profiles(self, profiles: Sequence[MemberProfile]) -> None:
        if not profiles:
            return
        p = t.member_profiles
        if self._db.is_postgres:
            rows = [_profile_values(x) for x in profiles]
            await pg_bulk.update_rows(
                self._db, p, ["organization_id", "user_id"], rows, ENRICH_FIELDS, fill_only=True
            )
            return
        statement = (
            p.update()
            .where(
                p.c.organization_id == sa.bindparam("k_org"), p.c.user_id == sa.bindparam("k_user")
            )
            .values({n: sa.func.coalesce(p.c[n], sa.bindparam(f"b_{n}")) for n in ENRICH_FIELDS})
        )
        params = [
            {
                "k_org": x.organization_id,
                "k_user": x.user_id,
                **{f"b_{n}": getattr(x, n) for n in ENRICH_FIELDS},
            }
            for x in profiles
        ]
        with translate_errors():
            await self._db.conn.execute(statement, params)

    async def analyze(self) -> None:
        if self._db.is_postgres:
            await self._db.execute(
                sa.text("ANALYZE users, memberships, member_profiles, plans, leads")
            )

    # --- undo -----------------------------------------------------------------------------

    async def add_changes(self, job_id: str, changes: Sequence[RowChange]) -> None:
        if changes:
            values = [
                {
                    "job_id": job_id,
                    "entity": c.entity,
                    "row_key": c.key,
                    "action": c.action,
                    "before_values": c.before,
                    "after_values": c.after,
                }
                for c in changes
            ]
            if self._db.is_postgres:
                await pg_bulk.insert_rows(self._db, t.import_changes, values)
            else:
                await self._many(t.import_changes.insert(), values)

    async def changes(self, job_id: str) -> list[RowChange]:
        c = t.import_changes
        rows = await self._db.all(sa.select(c).where(c.c.job_id == job_id).order_by(c.c.id))
        return [
            change
            for r in rows
            for change in pg_member_apply.expand_change(
                RowChange(
                    entity=r["entity"],
                    key=r["row_key"],
                    action=r["action"],
                    after=dict(r["after_values"]),
                    before=None if r["before_values"] is None else dict(r["before_values"]),
                )
            )
        ]

    def _where(
        self, org_id: str, entity: str, key: str
    ) -> tuple[sa.Table, list[sa.ColumnElement[bool]]]:
        table = _TABLES[entity]
        if entity == "profile":
            return table, [table.c.organization_id == org_id, table.c.user_id == key]
        return table, [table.c.id == key]

    async def current(self, org_id: str, entity: str, key: str) -> dict[str, Any] | None:
        table, where = self._where(org_id, entity, key)
        names = TRACKED_FIELDS[entity]
        row = await self._db.one_or_none(sa.select(*(table.c[n] for n in names)).where(*where))
        if row is None:
            return None
        return {n: str(v) if isinstance(v, Decimal) else v for n, v in row.items()}

    async def restore(
        self, org_id: str, entity: str, key: str, values: Mapping[str, Any] | None
    ) -> None:
        table, where = self._where(org_id, entity, key)
        if values is None:
            await self._db.execute(table.delete().where(*where))
            return
        updates = {n: v for n, v in values.items() if n in table.c}
        if entity == "lead" and "email" in updates:
            email = updates["email"]
            updates["email_normalized"] = None if email is None else normalize_email(email)
        if updates:
            await self._db.execute(table.update().where(*where).values(updates))

    async def membership_count(self, user_id: str) -> int:
        m = t.memberships
        return await self._db.count(sa.select(m.c.id).where(m.c.user_id == user_id))
