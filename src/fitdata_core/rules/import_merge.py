"""How a batch of clean import records meets what the organization already has.

Pure functions: given the records of one batch and the matching rows already stored, they
decide every insert and update, count each row (``created``, ``updated``, ``unchanged``,
``skipped``), and describe each change (:class:`RowChange`, before and after) so an import
can be undone. The repositories then write the decisions set-based; the rules live here once
for every backend.

The rules:

- A member is matched by email (stored lower-case, so case never matters). A new email makes a
  user; an existing user is linked with a membership. A user who also belongs to another
  organization keeps their name and phone (another gym's import must not rewrite them); a
  user whose only membership is here gets the source's values.
- A new membership has the role ``member``. An existing membership's role never changes, nor
  does the status of an owner's or admin's membership.
- A value the source does not give (None) never erases a stored one.
- A row whose values equal the stored ones is ``unchanged`` and writes nothing.
- Plans match by name; a new plan needs a price (none is invented). Leads match by email, or by
  phone when they have no email.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from fitdata_core.model.catalog import Lead, Plan, PlanKind
from fitdata_core.model.imports import ImportEntity, RowProblem, Severity, Tally
from fitdata_core.model.organizations import (
    MemberProfile,
    Membership,
    Role,
    User,
)
from fitdata_core.rules.import_values import LeadRecord, MemberRecord, PlanRecord

CREATED = "created"
UPDATED = "updated"

USER_FIELDS = ("first_name", "last_name", "phone")
MEMBERSHIP_FIELDS = ("status", "plan_id", "start_date", "end_date")
PROFILE_FIELDS = ("birth_date", "gender", "external_source", "external_id")
ENRICH_FIELDS = (
    "address",
    "city",
    "zip_code",
    "additional_phone",
    "emergency_contact_name",
    "emergency_contact_phone",
)
PLAN_FIELDS = ("price_amount", "price_currency", "session_count", "validity_days", "external_id")
LEAD_FIELDS = ("first_name", "last_name", "email", "phone", "status", "source", "external_id")

#: The fields of each changed entity that undo compares and restores.
TRACKED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "user": USER_FIELDS,
    "membership": ("role", *MEMBERSHIP_FIELDS),
    "profile": PROFILE_FIELDS + ENRICH_FIELDS,
    "plan": ("name", *PLAN_FIELDS),
    "lead": LEAD_FIELDS,
}

_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})


@attrs.frozen
class RowChange:
    """One row an import created or updated: ``before`` (None when created) and ``after``
    hold the tracked fields as plain JSON values. Undo restores ``before`` when the row
    still holds ``after``."""

    entity: str  # user | membership | profile | plan | lead
    key: str  # the row's id (profile: the user id; the org is the job's)
    action: str  # created | updated
    after: dict[str, Any]
    before: dict[str, Any] | None = None


@attrs.frozen
class ExistingMember:
    """What is stored for one email: the user, whether they belong to another organization,
    and their membership and profile here (if any)."""

    user: User
    in_other_orgs: bool = False
    membership: Membership | None = None
    profile: MemberProfile | None = None


@attrs.frozen
class MemberWrites:
    """What one batch of members writes: new and changed users, memberships and profiles, the
    changes undo needs, and the counts."""

    new_users: list[User] = attrs.field(factory=list)
    updated_users: list[User] = attrs.field(factory=list)
    new_memberships: list[Membership] = attrs.field(factory=list)
    updated_memberships: list[Membership] = attrs.field(factory=list)
    new_profiles: list[MemberProfile] = attrs.field(factory=list)
    updated_profiles: list[MemberProfile] = attrs.field(factory=list)
    changes: list[RowChange] = attrs.field(factory=list)
    tally: Tally = attrs.field(factory=Tally)
    problems: list[RowProblem] = attrs.field(factory=list)

    @property
    def writes(self) -> int:
        return sum(
            len(x)
            for x in (
                self.new_users,
                self.updated_users,
                self.new_memberships,
                self.updated_memberships,
                self.new_profiles,
                self.updated_profiles,
            )
        )


def plain(value: Any) -> Any:
    """A field value as undo keeps it in JSON: enums by value, the rest as is."""
    return getattr(value, "value", value)


def _values(obj: Any, fields: Sequence[str]) -> dict[str, Any]:
    return {name: plain(getattr(obj, name)) for name in fields}


def _evolve_given(obj: Any, wanted: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``obj`` with the non-None ``wanted`` values, and the fields that changed (old values)."""
    changed = {
        k: getattr(obj, k) for k, v in wanted.items() if v is not None and getattr(obj, k) != v
    }
    if not changed:
        return obj, {}
    return attrs.evolve(obj, **{k: wanted[k] for k in changed}), changed


def _updated(entity: str, key: str, before: Any, after: Any, fields: Sequence[str]) -> RowChange:
    return RowChange(entity, key, UPDATED, _values(after, fields), _values(before, fields))


def duplicate_email(external_id: str | None, email: str) -> RowProblem:
    """The warning for a member row whose email an earlier row of the batch had."""
    return RowProblem(
        ImportEntity.MEMBERS,
        "The same email appears twice in the source; the first row was imported.",
        Severity.WARNING,
        external_id,
        email,
        "email",
    )


def unknown_plan(external_id: str | None, email: str, plan_name: str) -> RowProblem:
    """The warning for a member row naming a plan the organization does not have."""
    return RowProblem(
        ImportEntity.MEMBERS,
        f"No plan named {plan_name!r}; the membership has no plan.",
        Severity.WARNING,
        external_id,
        email,
        "plan_name",
    )


@attrs.frozen
class AppliedMembers:
    """What a backend that applies staged members itself (set-based, by the rules of
    :func:`merge_members`) did with one batch: the rows it took (``rows``, up to staged seq
    ``end``), the counts and the row problems, in source order."""

    rows: int
    end: int
    tally: Tally
    problems: list[RowProblem] = attrs.field(factory=list)


def merge_members(
    org_id: str,
    records: Sequence[MemberRecord],
    existing: Mapping[str, ExistingMember],
    plan_ids: Mapping[str, str],
    *,
    source: str,
    now: datetime,
    new_id: Callable[[], str],
) -> MemberWrites:
    """Decide the writes for one batch of member records (see the module rules).

    ``existing`` maps each stored email of the batch to what is stored; ``plan_ids`` maps the
    org's plan names to ids.
    """
    out = MemberWrites()
    tally = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0}
    seen: set[str] = set()
    for record in records:
        if record.email in seen:
            tally["skipped"] += 1
            out.problems.append(duplicate_email(record.external_id, record.email))
            continue
        seen.add(record.email)
        plan_id = None
        if record.plan_name is not None:
            plan_id = plan_ids.get(record.plan_name)
            if plan_id is None:
                out.problems.append(
                    unknown_plan(record.external_id, record.email, record.plan_name)
                )
        outcome = _merge_member(
            org_id, record, existing.get(record.email), plan_id, source, now, new_id, out
        )
        tally[outcome] += 1
    return attrs.evolve(out, tally=Tally(**tally))


def _merge_member(
    org_id: str,
    record: MemberRecord,
    stored: ExistingMember | None,
    plan_id: str | None,
    source: str,
    now: datetime,
    new_id: Callable[[], str],
    out: MemberWrites,
) -> str:
    person = {"first_name": record.first_name, "last_name": record.last_name, "phone": record.phone}
    terms = {
        "status": record.status,
        "plan_id": plan_id,
        "start_date": record.start_date,
        "end_date": record.end_date,
    }
    profile_values = {
        "birth_date": record.birth_date,
        "gender": record.gender,
        "external_source": source,
        "external_id": record.external_id,
    }
    changed = False
    if stored is None:
        user = User(
            id=new_id(),
            email=record.email,
            first_name=record.first_name,
            last_name=record.last_name,
            phone=record.phone,
            created_at=now,
        )
        out.new_users.append(user)
        out.changes.append(RowChange("user", user.id, CREATED, _values(user, USER_FIELDS)))
    else:
        user = stored.user
        if not stored.in_other_orgs:
            updated, diff = _evolve_given(user, person)
            if diff:
                out.updated_users.append(updated)
                out.changes.append(_updated("user", user.id, user, updated, USER_FIELDS))
                changed = True
    membership = None if stored is None else stored.membership
    if membership is None:
        membership = Membership(
            id=new_id(),
            organization_id=org_id,
            user_id=user.id,
            role=Role.MEMBER,
            created_at=now,
            **terms,  # type: ignore[arg-type]
        )
        out.new_memberships.append(membership)
        out.changes.append(
            RowChange(
                "membership",
                membership.id,
                CREATED,
                _values(membership, TRACKED_FIELDS["membership"]),
            )
        )
        created = True
    else:
        created = False
        wanted = dict(terms)
        if membership.role in _MANAGERS:
            wanted["status"] = None
        updated_m, diff = _evolve_given(membership, wanted)
        if diff:
            out.updated_memberships.append(updated_m)
            out.changes.append(
                _updated(
                    "membership", membership.id, membership, updated_m, TRACKED_FIELDS["membership"]
                )
            )
            changed = True
    profile = None if stored is None else stored.profile
    if profile is None:
        profile = MemberProfile(
            organization_id=org_id, user_id=user.id, updated_at=now, **profile_values
        )
        out.new_profiles.append(profile)
        out.changes.append(
            RowChange("profile", user.id, CREATED, _values(profile, TRACKED_FIELDS["profile"]))
        )
        changed = True
    else:
        updated_p, diff = _evolve_given(profile, profile_values)
        if diff:
            updated_p = attrs.evolve(updated_p, updated_at=now)
            out.updated_profiles.append(updated_p)
            out.changes.append(
                _updated("profile", user.id, profile, updated_p, TRACKED_FIELDS["profile"])
            )
            changed = True
    if created:
        return "created"
    return "updated" if changed else "unchanged"


@attrs.frozen
class PlanWrites:
    """What one batch of plans writes: new and changed plans, the changes undo needs, the counts
    and the row problems."""

    new_plans: list[Plan] = attrs.field(factory=list)
    updated_plans: list[Plan] = attrs.field(factory=list)
    changes: list[RowChange] = attrs.field(factory=list)
    tally: Tally = attrs.field(factory=Tally)
    problems: list[RowProblem] = attrs.field(factory=list)


def plan_values(plan: Plan) -> dict[str, Any]:
    """The tracked values of a plan as plain JSON values (what undo compares and restores)."""
    return {
        "name": plan.name,
        "price_amount": str(plan.price.amount),
        "price_currency": plan.price.currency,
        "session_count": plan.session_count,
        "validity_days": plan.validity_days,
        "external_id": plan.external_id,
    }


def merge_plans(
    org_id: str,
    records: Sequence[PlanRecord],
    existing: Mapping[str, Plan],
    *,
    now: datetime,
    new_id: Callable[[], str],
) -> PlanWrites:
    """Plans by name: a new name makes a plan (it needs a price), a known one is updated."""
    out = PlanWrites()
    tally = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    seen: set[str] = set()
    for record in records:
        if record.name in seen:
            tally["skipped"] += 1
            continue
        seen.add(record.name)
        stored = existing.get(record.name)
        if stored is None:
            if record.price is None:
                tally["failed"] += 1
                out.problems.append(
                    RowProblem(
                        ImportEntity.PLANS,
                        f"Plan {record.name!r} has no price; no plan is made without one.",
                        Severity.ERROR,
                        record.external_id,
                        None,
                        "price",
                    )
                )
                continue
            plan = Plan(
                id=new_id(),
                organization_id=org_id,
                name=record.name,
                kind=PlanKind.CLASS_PACK if record.session_count else PlanKind.MEMBERSHIP,
                price=record.price,
                created_at=now,
                session_count=record.session_count,
                validity_days=record.validity_days,
                external_id=record.external_id,
            )
            out.new_plans.append(plan)
            out.changes.append(RowChange("plan", plan.id, CREATED, plan_values(plan)))
            tally["created"] += 1
            continue
        updated, diff = _evolve_given(
            stored,
            {
                "price": record.price,
                "session_count": record.session_count,
                "validity_days": record.validity_days,
                "external_id": record.external_id,
            },
        )
        if diff:
            out.updated_plans.append(updated)
            out.changes.append(
                RowChange("plan", stored.id, UPDATED, plan_values(updated), plan_values(stored))
            )
            tally["updated"] += 1
        else:
            tally["unchanged"] += 1
    return attrs.evolve(out, tally=Tally(**tally))


@attrs.frozen
class LeadWrites:
    """What one batch of leads writes: new and changed leads, the changes undo needs, the counts
    and the row problems."""

    new_leads: list[Lead] = attrs.field(factory=list)
    updated_leads: list[Lead] = attrs.field(factory=list)
    changes: list[RowChange] = attrs.field(factory=list)
    tally: Tally = attrs.field(factory=Tally)
    problems: list[RowProblem] = attrs.field(factory=list)


def lead_key(email: str | None, phone: str | None) -> str:
    """How leads match: by email, else by phone."""
    return f"email:{email}" if email else f"phone:{phone}"


def merge_leads(
    org_id: str,
    records: Sequence[LeadRecord],
    existing: Mapping[str, Lead],
    *,
    now: datetime,
    new_id: Callable[[], str],
) -> LeadWrites:
    """Leads by :func:`lead_key`; ``existing`` maps those keys to the stored leads."""
    out = LeadWrites()
    tally = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0}
    seen: set[str] = set()
    for record in records:
        key = lead_key(record.email, record.phone)
        if key in seen:
            tally["skipped"] += 1
            continue
        seen.add(key)
        wanted = {name: getattr(record, name) for name in LEAD_FIELDS}
        stored = existing.get(key)
        if stored is None:
            lead = Lead(id=new_id(), organization_id=org_id, created_at=now, **wanted)
            out.new_leads.append(lead)
            out.changes.append(RowChange("lead", lead.id, CREATED, _values(lead, LEAD_FIELDS)))
            tally["created"] += 1
            continue
        updated, diff = _evolve_given(stored, wanted)
        if diff:
            out.updated_leads.append(updated)
            out.changes.append(_updated("lead", stored.id, stored, updated, LEAD_FIELDS))
            tally["updated"] += 1
        else:
            tally["unchanged"] += 1
    return attrs.evolve(out, tally=Tally(**tally))


def enrich_profile(profile: MemberProfile, detail: Mapping[str, str | None]) -> MemberProfile:
    """``profile`` with the detail's values filled in where it has none (never overwriting)."""
    fill = {
        name: value
        for name, value in detail.items()
        if name in ENRICH_FIELDS and value is not None and getattr(profile, name) is None
    }
    return attrs.evolve(profile, **fill) if fill else profile  # type: ignore[arg-type]


__all__ = [
    "CREATED",
    "ENRICH_FIELDS",
    "TRACKED_FIELDS",
    "UPDATED",
    "AppliedMembers",
    "ExistingMember",
    "LeadWrites",
    "MemberWrites",
    "PlanWrites",
    "RowChange",
    "duplicate_email",
    "enrich_profile",
    "lead_key",
    "merge_leads",
    "merge_members",
    "merge_plans",
    "plain",
    "plan_values",
    "unknown_plan",
]
