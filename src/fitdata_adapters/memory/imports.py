"""The in-memory import repository (``uow.imports``), same contract as the SQL one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from fitdata_core.errors import Conflict
from fitdata_core.model.catalog import Lead, Plan
from fitdata_core.model.organizations import MemberProfile, normalize_email
from fitdata_core.money import Money
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
    plain,
    plan_values,
)
from fitdata_core.rules.import_values import MemberRecord

if TYPE_CHECKING:
    from fitdata_adapters.memory.uow import MemoryUnitOfWork, _Tables


class MemoryImportData:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    @property
    def t(self) -> _Tables:
        return self._uow.tables

    # --- staging --------------------------------------------------------------------------

    async def stage(
        self, job_id: str, entity: str, rows: Sequence[tuple[int, StagedRecord]]
    ) -> None:
        for seq, data in rows:
            key = (job_id, entity, seq)
            if key in self.t.import_staged:
                raise Conflict("This row is staged already.")
            self.t.import_staged[key] = (
                data.to_dict() if isinstance(data, MemberRecord) else dict(data)
            )

    async def staged(
        self, job_id: str, entity: str, *, from_seq: int, limit: int
    ) -> list[tuple[int, dict[str, Any]]]:
        rows = sorted(
            (seq, dict(data))
            for (j, e, seq), data in self.t.import_staged.items()
            if j == job_id and e == entity and seq >= from_seq
        )
        return rows[:limit]

    async def drop_staged(
        self, job_id: str, *, entity: str | None = None, from_seq: int = 0
    ) -> None:
        for key in [
            k
            for k in self.t.import_staged
            if k[0] == job_id and (entity is None or k[1] == entity) and k[2] >= from_seq
        ]:
            del self.t.import_staged[key]

    # --- reads ----------------------------------------------------------------------------

    async def existing_members(
        self, org_id: str, emails: Sequence[str]
    ) -> dict[str, ExistingMember]:
        wanted = {normalize_email(e) for e in emails}
        users = {
            u.email_normalized: u for u in self.t.users.values() if u.email_normalized in wanted
        }
        found: dict[str, ExistingMember] = {}
        for email, user in users.items():
            mine = [m for m in self.t.memberships.values() if m.user_id == user.id]
            here = next((m for m in mine if m.organization_id == org_id), None)
            found[email] = ExistingMember(
                user=user,
                in_other_orgs=any(m.organization_id != org_id for m in mine),
                membership=here,
                profile=self.t.profiles.get((org_id, user.id)),
            )
        return found

    async def plans_by_name(
        self, org_id: str, names: Sequence[str] | None = None
    ) -> dict[str, Plan]:
        return {
            p.name: p
            for p in self.t.plans.values()
            if p.organization_id == org_id and (names is None or p.name in names)
        }

    async def leads_by_key(
        self, org_id: str, emails: Sequence[str], phones: Sequence[str]
    ) -> dict[str, Lead]:
        wanted_emails = {normalize_email(e) for e in emails}
        wanted_phones = set(phones)
        found: dict[str, Lead] = {}
        for lead in sorted(self.t.leads.values(), key=lambda x: (x.created_at, x.id)):
            if lead.organization_id != org_id:
                continue
            email = normalize_email(lead.email) if lead.email else None
            if email and email in wanted_emails:
                found.setdefault(lead_key(email, None), lead)
            elif not email and lead.phone in wanted_phones:
                found.setdefault(lead_key(None, lead.phone), lead)
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
        return None  # the engine decides in Python (the reference rules)

    async def write_members(self, writes: MemberWrites) -> None:
        taken = {u.email_normalized for u in self.t.users.values()}
        for user in writes.new_users:
            if user.email_normalized in taken:
                raise Conflict("A user with this email already exists.")
        for user in (*writes.new_users, *writes.updated_users):
            self.t.users[user.id] = user
        for membership in writes.new_memberships:
            if any(
                m.organization_id == membership.organization_id and m.user_id == membership.user_id
                for m in self.t.memberships.values()
            ):
                raise Conflict("The user is already a member of this organization.")
        for membership in (*writes.new_memberships, *writes.updated_memberships):
            self.t.memberships[membership.id] = membership
        for profile in (*writes.new_profiles, *writes.updated_profiles):
            self.t.profiles[(profile.organization_id, profile.user_id)] = profile

    async def write_plans(self, writes: PlanWrites) -> None:
        for plan in writes.new_plans:
            if any(
                p.organization_id == plan.organization_id and p.name == plan.name
                for p in self.t.plans.values()
            ):
                raise Conflict("A plan with this name already exists.")
        for plan in (*writes.new_plans, *writes.updated_plans):
            self.t.plans[plan.id] = plan

    async def write_leads(self, writes: LeadWrites) -> None:
        for lead in (*writes.new_leads, *writes.updated_leads):
            self.t.leads[lead.id] = lead

    async def imported_profiles(
        self, org_id: str, source: str, *, offset: int, limit: int
    ) -> list[MemberProfile]:
        profiles = sorted(
            (
                p
                for p in self.t.profiles.values()
                if p.organization_id == org_id
                and p.external_source == source
                and p.external_id is not None
            ),
            key=lambda p: p.user_id,
        )
        return profiles[offset : offset + limit]

    async def fill_profiles(self, profiles: Sequence[MemberProfile]) -> None:
        for profile in profiles:
            key = (profile.organization_id, profile.user_id)
            stored = self.t.profiles.get(key)
            if stored is None:
                continue
            fill = {
                name: getattr(profile, name)
                for name in ENRICH_FIELDS
                if getattr(stored, name) is None and getattr(profile, name) is not None
            }
            if fill:
                self.t.profiles[key] = attrs.evolve(stored, **fill)

    async def analyze(self) -> None:
        return None

    # --- undo -----------------------------------------------------------------------------

    async def add_changes(self, job_id: str, changes: Sequence[RowChange]) -> None:
        if changes:
            self.t.import_changes[job_id] = self.t.import_changes.get(job_id, ()) + tuple(changes)

    async def changes(self, job_id: str) -> list[RowChange]:
        return list(self.t.import_changes.get(job_id, ()))

    def _row(self, org_id: str, entity: str, key: str) -> Any:
        if entity == "user":
            return self.t.users.get(key)
        if entity == "membership":
            return self.t.memberships.get(key)
        if entity == "profile":
            return self.t.profiles.get((org_id, key))
        if entity == "plan":
            return self.t.plans.get(key)
        if entity == "lead":
            return self.t.leads.get(key)
        raise ValueError(f"unknown entity {entity!r}")

    async def current(self, org_id: str, entity: str, key: str) -> dict[str, Any] | None:
        row = self._row(org_id, entity, key)
        if row is None:
            return None
        if entity == "plan":
            return plan_values(row)
        return {name: plain(getattr(row, name)) for name in TRACKED_FIELDS[entity]}

    async def restore(
        self, org_id: str, entity: str, key: str, values: Mapping[str, Any] | None
    ) -> None:
        row = self._row(org_id, entity, key)
        if row is None:
            return
        tables: dict[str, dict[Any, Any]] = {
            "user": self.t.users,
            "membership": self.t.memberships,
            "profile": self.t.profiles,
            "plan": self.t.plans,
            "lead": self.t.leads,
        }
        table = tables[entity]
        row_key: Any = (org_id, key) if entity == "profile" else key
        if values is None:
            del table[row_key]
            return
        updates = dict(values)
        if entity == "plan":
            amount = updates.pop("price_amount", None)
            currency = updates.pop("price_currency", None)
            if amount is not None:
                updates["price"] = Money(amount, currency or row.price.currency)
        converted = {}
        for name, value in updates.items():
            current = getattr(row, name)
            kind = type(current)
            # Enums (role, status) come back from their JSON value.
            converted[name] = (
                kind(value) if value is not None and hasattr(current, "value") else value
            )
        table[row_key] = attrs.evolve(row, **converted)

    async def membership_count(self, user_id: str) -> int:
        return sum(1 for m in self.t.memberships.values() if m.user_id == user_id)
