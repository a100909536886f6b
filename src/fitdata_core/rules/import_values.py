"""Value rules of every import source: a source row in, a clean record (or problems) out.

Sources (Arbox, CSV) hand over values as they found them; these rules decide, the same way
for every source, what is imported:

- members need an email; it must be a syntactically valid address (no DNS lookup) and is
  stored lower-case. A row without one, or with a bad one, is a row error (not imported).
- phones become E.164 (Israel by default); a phone that cannot be read is dropped with a
  warning, and the row is still imported.
- names are trimmed (empty means none); dates must be ISO ``YYYY-MM-DD`` (a bad date is
  dropped with a warning); gender is ``male``/``female``/``other`` (anything else dropped
  with a warning).
- an active member whose membership ended in the past is imported as given, with a warning.

Nothing here raises for a bad value: a bad row becomes :class:`RowProblem` values, so it is
recorded in the job's report and never fails its batch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import attrs

from fitdata_core.errors import InvalidInput
from fitdata_core.model.imports import ImportEntity, RowProblem, Severity
from fitdata_core.model.organizations import MembershipStatus
from fitdata_core.money import Money
from fitdata_core.ports.providers import SourceLead, SourceMember, SourcePlan
from fitdata_core.rules.validation import validate_email, validate_phone

GENDERS: Mapping[str, str] = {
    "male": "male",
    "m": "male",
    "זכר": "male",
    "female": "female",
    "f": "female",
    "נקבה": "female",
    "other": "other",
}


@attrs.frozen
class MemberRecord:
    """A member row that passed the rules: what the engine upserts (values normalised)."""

    external_id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    status: MembershipStatus = MembershipStatus.ACTIVE
    birth_date: str | None = None
    gender: str | None = None
    plan_name: str | None = None
    start_date: str | None = None
    end_date: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # Spelled out rather than attrs.asdict: a CSV import stages a million of these.
        return {
            "external_id": self.external_id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "phone": self.phone,
            "status": self.status.value,
            "birth_date": self.birth_date,
            "gender": self.gender,
            "plan_name": self.plan_name,
            "start_date": self.start_date,
            "end_date": self.end_date,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MemberRecord:
        return cls(**{**data, "status": MembershipStatus(data["status"])})


@attrs.frozen
class PlanRecord:
    """A plan from a source, checked: a name (the match key), an optional price, sessions and
    validity in days."""

    external_id: str
    name: str
    price: Money | None = None
    session_count: int | None = None
    validity_days: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "name": self.name,
            "price": None if self.price is None else str(self.price.amount),
            "currency": None if self.price is None else self.price.currency,
            "session_count": self.session_count,
            "validity_days": self.validity_days,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanRecord:
        price = None
        if data.get("price") is not None:
            price = Money(Decimal(str(data["price"])), data["currency"])
        return cls(
            external_id=data["external_id"],
            name=data["name"],
            price=price,
            session_count=data.get("session_count"),
            validity_days=data.get("validity_days"),
        )


@attrs.frozen
class LeadRecord:
    """A lead row that passed the rules: matched by ``email``, else by ``phone``."""

    external_id: str
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    status: str = "new"
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LeadRecord:
        return cls(**data)


# Fast paths for the common shapes, so a million-row import does not spend most of its time in
# the general validators (about 0.3 ms a value each). Each accepts only values the general
# validator accepts with the same result; anything else goes to the general validator.
_SIMPLE_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?P<tld>[a-z]{2,63})"
)
_SPECIAL_USE_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})
# Israeli numbers with their trunk zero or +972: mobiles (05x), landlines (02, 03, 04, 08,
# 09) and the rest of the 8- and 9-digit national plan, which phonenumbers (a possible-length
# check) turns into +972 and the digits after the zero. "972" without the plus only for a
# mobile: there phonenumbers reads some landline lengths as a national number starting 972.
_IL_NUMBER = re.compile(r"(?:\+972|0)([2-9]\d{7,8})|972(5\d{8})")
_PHONE_PUNCTUATION = str.maketrans("", "", " -().")


def import_email(raw: str) -> str:
    """The normalised email (lower-case); ``InvalidInput`` when it is not an address."""
    lowered = raw.lower()
    match = _SIMPLE_EMAIL.fullmatch(lowered)
    if (
        match is not None
        and len(lowered) <= 254
        and lowered.index("@") <= 64
        and "--" not in lowered.partition("@")[2]  # IDNA rules: leave those to the validator
        and match.group("tld") not in _SPECIAL_USE_TLDS
    ):
        return lowered
    return validate_email(raw)


def import_phone(raw: str, *, field: str = "phone") -> str:
    """The phone in E.164 (Israel by default); ``InvalidInput`` when it is not one."""
    match = _IL_NUMBER.fullmatch(raw.translate(_PHONE_PUNCTUATION))
    if match is not None:
        return f"+972{match.group(1) or match.group(2)}"
    return validate_phone(raw, field=field)


def clean_text(value: str | None) -> str | None:
    """Trimmed, or None for nothing but blanks."""
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


class _Row:
    """Collects the problems of one source row."""

    def __init__(self, entity: ImportEntity, source_id: str, email: str | None) -> None:
        self.entity = entity
        self.source_id = source_id
        self.email = email
        self.problems: list[RowProblem] = []

    def problem(self, field: str, reason: str, severity: Severity) -> None:
        self.problems.append(
            RowProblem(
                entity=self.entity,
                reason=reason,
                severity=severity,
                source_id=self.source_id,
                email=self.email,
                field=field,
            )
        )

    def phone(self, value: str | None, field: str = "phone") -> str | None:
        raw = clean_text(value)
        if raw is None:
            return None
        try:
            return import_phone(raw, field=field)
        except InvalidInput:
            self.problem(
                field, f"Not a phone number ({raw!r}); imported without it.", Severity.WARNING
            )
            return None

    def iso_date(self, value: str | None, field: str) -> str | None:
        raw = clean_text(value)
        if raw is None:
            return None
        try:
            # A timestamp's date part counts ("2024-01-31 00:00:00").
            return date.fromisoformat(raw[:10]).isoformat()
        except ValueError:
            self.problem(
                field, f"Not a date YYYY-MM-DD ({raw!r}); imported without it.", Severity.WARNING
            )
            return None


def member_record(
    member: SourceMember, *, today: date
) -> tuple[MemberRecord | None, list[RowProblem]]:
    """The record to import for ``member`` (None when the row fails) and its problems."""
    raw_email = clean_text(member.email)
    row = _Row(ImportEntity.MEMBERS, member.external_id, raw_email)
    if raw_email is None:
        row.problem("email", "A member needs an email address.", Severity.ERROR)
        return None, row.problems
    try:
        email = import_email(raw_email)
    except InvalidInput:
        row.problem("email", f"Not a valid email address: {raw_email!r}.", Severity.ERROR)
        return None, row.problems
    row.email = email
    gender = None
    raw_gender = clean_text(member.gender)
    if raw_gender is not None:
        gender = GENDERS.get(raw_gender.lower())
        if gender is None:
            row.problem(
                "gender", f"Unknown gender {raw_gender!r}; imported without it.", Severity.WARNING
            )
    status = MembershipStatus.ACTIVE if member.active else MembershipStatus.INACTIVE
    end = row.iso_date(member.membership_end, "membership_end")
    if status is MembershipStatus.ACTIVE and end is not None and end < today.isoformat():
        row.problem(
            "membership_end",
            f"Active member whose membership ended on {end}; imported as given.",
            Severity.WARNING,
        )
    record = MemberRecord(
        external_id=member.external_id,
        email=email,
        first_name=clean_text(member.first_name),
        last_name=clean_text(member.last_name),
        phone=row.phone(member.phone),
        status=status,
        birth_date=row.iso_date(member.birth_date, "birth_date"),
        gender=gender,
        plan_name=clean_text(member.plan_name),
        start_date=row.iso_date(member.membership_start, "membership_start"),
        end_date=end,
    )
    return record, row.problems


def plan_record(plan: SourcePlan) -> tuple[PlanRecord | None, list[RowProblem]]:
    """A source plan checked into a :class:`PlanRecord`, or None and the problems that
    refused it."""
    name = clean_text(plan.name)
    row = _Row(ImportEntity.PLANS, plan.external_id, None)
    if name is None:
        row.problem("name", "A plan needs a name.", Severity.ERROR)
        return None, row.problems
    validity = plan.period_months * 30 if plan.period_months else None
    record = PlanRecord(plan.external_id, name, plan.price, plan.session_count, validity)
    return record, row.problems


def lead_record(lead: SourceLead) -> tuple[LeadRecord | None, list[RowProblem]]:
    """A source lead checked and normalised into a ``LeadRecord`` (an email or a phone is needed),
    or None and the problems that refused it."""
    raw_email = clean_text(lead.email)
    row = _Row(ImportEntity.LEADS, lead.external_id, raw_email)
    email = None
    if raw_email is not None:
        try:
            email = import_email(raw_email)
        except InvalidInput:
            row.problem("email", f"Not a valid email address: {raw_email!r}.", Severity.ERROR)
            return None, row.problems
    phone = row.phone(lead.phone)
    if email is None and phone is None:
        row.problem("email", "A lead needs an email address or a phone number.", Severity.ERROR)
        return None, row.problems
    record = LeadRecord(
        external_id=lead.external_id,
        email=email,
        phone=phone,
        first_name=clean_text(lead.first_name),
        last_name=clean_text(lead.last_name),
        status=clean_text(lead.status) or "new",
        source=clean_text(lead.source),
    )
    return record, row.problems


__all__ = [
    "GENDERS",
    "LeadRecord",
    "MemberRecord",
    "PlanRecord",
    "clean_text",
    "import_email",
    "import_phone",
    "lead_record",
    "member_record",
    "plan_record",
]
