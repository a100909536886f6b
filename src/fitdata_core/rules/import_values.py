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

import functools
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

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


class MemberRecord(NamedTuple):
    """A member row that passed the rules: what the engine upserts (values normalised).

    A named tuple rather than an attrs class (as :class:`~fitdata_core.rules.csv_mapping.
    MappedRecord`): a CSV import builds one per row of a million-row file, and a frozen attrs
    instance of eleven fields measured 3.2 µs to build against 0.3 µs for the tuple.
    """

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
        # Off the hot path: the engine stages the record itself (``columns``).
        return dict(zip(self._fields, self.columns(), strict=True))

    def columns(self) -> tuple[str | None, ...]:
        """The fields in order, the status as its plain string (``to_dict()``'s values): what
        a store keeping a field a column stages, once per row of a million-row file. Spelled
        out from the unpacked tuple (half the time of slicing it), the status by a dict
        look-up (an enum's ``.value`` costs more than the rest)."""
        (external_id, email, first, last, phone, status, birth, gender, plan, start, end) = self
        return (
            external_id,
            email,
            first,
            last,
            phone,
            _STATUS_TEXT[status],
            birth,
            gender,
            plan,
            start,
            end,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MemberRecord:
        return cls(**{**data, "status": MembershipStatus(data["status"])})


_STATUS_TEXT: Mapping[str, str] = {status: status.value for status in MembershipStatus}


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
    return checked_member(
        source_id=member.external_id,
        external_id=member.external_id,
        email=member.email,
        first_name=member.first_name,
        last_name=member.last_name,
        phone=member.phone,
        active=member.active,
        birth_date=member.birth_date,
        gender=member.gender,
        plan_name=member.plan_name,
        membership_start=member.membership_start,
        membership_end=member.membership_end,
        today=today,
    )


# Enum members looked up once: on Python 3.11 reading ``Enum.MEMBER`` costs about 0.3 µs,
# as much as a row's whole name check, and the member rules need three or four a row.
_ACTIVE = MembershipStatus.ACTIVE
_INACTIVE = MembershipStatus.INACTIVE
_MEMBERS = ImportEntity.MEMBERS
_WARNING = Severity.WARNING


def _member_problem(
    source_id: str, email: str | None, field: str, reason: str, severity: Severity = _WARNING
) -> RowProblem:
    return RowProblem(_MEMBERS, reason, severity, source_id, email, field)


@functools.lru_cache(maxsize=16384)
def _iso_date(value: str) -> tuple[str, str | None]:
    """``value`` cleaned (as ``clean_text``) and its date as ISO ``YYYY-MM-DD`` (None when it
    is not one). Cached, bounded as the CSV mapper's date cache is (16,384 values, a few MB
    at most): dates repeat down a file (a birthday is shared by many members, a start date
    by a whole intake), and a hit measured 0.2 µs against 1.25 µs for the parse."""
    raw = " ".join(value.split())
    try:
        # A timestamp's date part counts ("2024-01-31 00:00:00").
        return raw, date.fromisoformat(raw[:10]).isoformat()
    except ValueError:
        return raw, None


def _member_date(
    value: str, field: str, problems: list[RowProblem], source_id: str, email: str
) -> str | None:
    raw, iso = _iso_date(value)
    if iso is None and raw:
        problems.append(
            _member_problem(
                source_id, email, field, f"Not a date YYYY-MM-DD ({raw!r}); imported without it."
            )
        )
    return iso


def checked_member(
    source_id: str,
    external_id: str,
    email: str | None,
    first_name: str | None,
    last_name: str | None,
    phone: str | None,
    active: bool,
    birth_date: str | None,
    gender: str | None,
    plan_name: str | None,
    membership_start: str | None,
    membership_end: str | None,
    today: date,
) -> tuple[MemberRecord | None, list[RowProblem]]:
    """:func:`member_record` of a source row given field by field, its problems naming the
    row ``source_id``: what a source that holds its rows as plain values (a CSV file) calls
    without building a :class:`SourceMember` first.

    Run once per row of a million-row file: the ``clean_text`` of each value is spelled
    out inline (``value and " ".join(value.split()) or None``: the same result for a string
    or None), an absent date costs no call, a problem is built only when there is one, and
    a hot caller passes the fields positionally (thirteen keywords cost more to match than
    most of the checks).
    """
    raw_email = (email and " ".join(email.split())) or None
    if raw_email is None:
        reason = "A member needs an email address."
        return None, [_member_problem(source_id, None, "email", reason, Severity.ERROR)]
    try:
        email = import_email(raw_email)
    except InvalidInput:
        reason = f"Not a valid email address: {raw_email!r}."
        return None, [_member_problem(source_id, raw_email, "email", reason, Severity.ERROR)]
    problems: list[RowProblem] = []
    raw_gender = gender and " ".join(gender.split())
    if raw_gender:
        gender = GENDERS.get(raw_gender.lower())
        if gender is None:
            problems.append(
                _member_problem(
                    source_id,
                    email,
                    "gender",
                    f"Unknown gender {raw_gender!r}; imported without it.",
                )
            )
    else:
        gender = None
    status = _ACTIVE if active else _INACTIVE
    end = (
        None
        if membership_end is None
        else _member_date(membership_end, "membership_end", problems, source_id, email)
    )
    if active and end is not None and end < today.isoformat():
        problems.append(
            _member_problem(
                source_id,
                email,
                "membership_end",
                f"Active member whose membership ended on {end}; imported as given.",
            )
        )
    # The problems in the order the fields are checked: end date, phone, birth date, start.
    raw_phone = phone and " ".join(phone.split())
    if raw_phone:
        try:
            phone = import_phone(raw_phone)
        except InvalidInput:
            phone = None
            problems.append(
                _member_problem(
                    source_id,
                    email,
                    "phone",
                    f"Not a phone number ({raw_phone!r}); imported without it.",
                )
            )
    else:
        phone = None
    record = MemberRecord(
        external_id,
        email,
        (first_name and " ".join(first_name.split())) or None,
        (last_name and " ".join(last_name.split())) or None,
        phone,
        status,
        None
        if birth_date is None
        else _member_date(birth_date, "birth_date", problems, source_id, email),
        gender,
        (plan_name and " ".join(plan_name.split())) or None,
        None
        if membership_start is None
        else _member_date(membership_start, "membership_start", problems, source_id, email),
        end,
    )
    return record, problems


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
    "checked_member",
    "clean_text",
    "import_email",
    "import_phone",
    "lead_record",
    "member_record",
    "plan_record",
]
