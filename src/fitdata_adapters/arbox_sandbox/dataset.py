"""What the Arbox sandbox serves: a data set, set by hand or generated from a seed.

A :class:`DataSet` holds the rows each endpoint answers with, exactly as Arbox spells them
(``arbox-protocol.md``): plans, the Business API's ``users`` (active members only), the two
Management reports, leads, and per-user detail keyed by user id.

:func:`generate_dataset` builds one of N members deterministically from a seed without storing
the members: each row is rendered from ``(seed, index)`` when asked for, so 100,000 members
cost a few hundred kilobytes and any page is served in constant time. The mix:

- Hebrew and English names; Israeli phones typed every way (``0521234567``,
  ``052-123-4567``, ``052 123 4567``, ``+972521234567``) and some empty;
- about one member in seven only in the inactive report, one in fifty in *both* reports (their
  inactive row is an older membership: active wins), the rest active;
- exactly one malformed email (:func:`malformed_email_index`), some emails in mixed case or
  with spaces around them, birthdays ``"0000-00-00"`` or null now and then, a plan name no plan
  has (``UNKNOWN_PLAN_NAME``), an active membership that ended in the past;
- five plans, one lead per twenty members (a quarter without an email), and a detail record
  for every member (address, city, emergency contact ...).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar, overload

import attrs

JsonObject = dict[str, Any]
T = TypeVar("T")

FIRST_MEMBER_ID = 10_001
FIRST_LEAD_ID = 900_001
UNKNOWN_PLAN_NAME = "Legacy 2019 plan"

#: ``membershipTypes`` rows of every generated data set.
PLANS: tuple[JsonObject, ...] = (
    {
        "membership_type_id": 1,
        "membership_type_name": "חודשי ללא הגבלה",
        "price": 350,
        "sessions": None,
        "period_months": 1,
    },
    {
        "membership_type_id": 2,
        "membership_type_name": "כרטיסייה 10 כניסות",
        "price": 600,
        "sessions": 10,
        "period_months": 3,
    },
    {
        "membership_type_id": 3,
        "membership_type_name": "Annual Unlimited",
        "price": 3200,
        "sessions": None,
        "period_months": 12,
    },
    {
        "membership_type_id": 4,
        "membership_type_name": "Twice a week",
        "price": 280.5,
        "sessions": 8,
        "period_months": 1,
    },
    {
        "membership_type_id": 5,
        "membership_type_name": "Student",
        "price": 250,
        "sessions": None,
        "period_months": 1,
    },
)

# (as shown, as in an email address, gender)
_HEBREW_FIRST = (
    ("נועה", "noa", "female"),
    ("דניאל", "daniel", "male"),
    ("יוסי", "yossi", "male"),
    ("מיכל", "michal", "female"),
    ("איתי", "itai", "male"),
    ("שירה", "shira", "female"),
    ("אורי", "ori", "male"),
    ("תמר", "tamar", "female"),
    ("עומר", "omer", "male"),
    ("יעל", "yael", "female"),
)
_HEBREW_LAST = (
    ("כהן", "cohen"),
    ("לוי", "levi"),
    ("מזרחי", "mizrahi"),
    ("פרץ", "peretz"),
    ("ביטון", "biton"),
    ("אברהם", "avraham"),
    ("פרידמן", "friedman"),
    ("שפירא", "shapira"),
)
_ENGLISH_FIRST = (
    ("James", "james", "male"),
    ("Emma", "emma", "female"),
    ("Oliver", "oliver", "male"),
    ("Sophia", "sophia", "female"),
    ("Liam", "liam", "male"),
    ("Mia", "mia", "female"),
)
_ENGLISH_LAST = (("Smith", "smith"), ("Brown", "brown"), ("Taylor", "taylor"), ("Walker", "walker"))
_DOMAINS = ("gmail.com", "walla.co.il", "yahoo.com", "outlook.com", "hotmail.co.il")
_MOBILE_PREFIXES = ("050", "052", "053", "054", "055", "058")
_CITIES = ("תל אביב", "ירושלים", "Haifa", "רמת גן", "Ra'anana", "באר שבע", "Herzliya")
_STREETS = ("הרצל", "Rothschild Blvd", "בן יהודה", "Dizengoff", "ויצמן", "Jabotinsky")
_LEAD_STATUSES = ("New", "Contacted", "Trial booked", "In progress")
_LEAD_SOURCES = ("Facebook", "Instagram", "Website", "Walk-in", "Friend")

ACTIVE, INACTIVE, BOTH = 0, 1, 2


@attrs.frozen
class DataSet:
    """The rows every endpoint serves (Arbox field names). Sequences may be lazy."""

    plans: Sequence[JsonObject] = ()
    users: Sequence[JsonObject] = ()
    active_report: Sequence[JsonObject] = ()
    inactive_report: Sequence[JsonObject] = ()
    leads: Sequence[JsonObject] = ()
    #: ``users/{id}`` answers by user id (a string).
    details: Mapping[str, JsonObject] = attrs.field(factory=dict)

    def describe(self) -> JsonObject:
        """Counts, for the control API."""
        return {
            "plans": len(self.plans),
            "users": len(self.users),
            "active_report": len(self.active_report),
            "inactive_report": len(self.inactive_report),
            "leads": len(self.leads),
            "details": len(self.details),
        }


class LazyRows(Sequence[JsonObject]):
    """Rows rendered on demand from an index list: nothing per row is kept in memory."""

    def __init__(self, indices: Sequence[int], render: Callable[[int], JsonObject]) -> None:
        self._indices = indices
        self._render = render

    def __len__(self) -> int:
        return len(self._indices)

    @overload
    def __getitem__(self, index: int) -> JsonObject: ...

    @overload
    def __getitem__(self, index: slice) -> list[JsonObject]: ...

    def __getitem__(self, index: int | slice) -> JsonObject | list[JsonObject]:
        if isinstance(index, slice):
            return [self._render(i) for i in self._indices[index]]
        return self._render(self._indices[index])

    def __iter__(self) -> Iterator[JsonObject]:
        return (self._render(i) for i in self._indices)


class _LazyDetails(Mapping[str, JsonObject]):
    def __init__(self, count: int, render: Callable[[int], JsonObject]) -> None:
        self._count = count
        self._render = render

    def _index(self, key: str) -> int | None:
        if not key.isdigit():
            return None
        index = int(key) - FIRST_MEMBER_ID
        return index if 0 <= index < self._count else None

    def __getitem__(self, key: str) -> JsonObject:
        index = self._index(key)
        if index is None:
            raise KeyError(key)
        return self._render(index)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._index(key) is not None

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        return (str(FIRST_MEMBER_ID + i) for i in range(self._count))


def member_kind(index: int) -> int:
    """``ACTIVE``, ``INACTIVE`` (only in the inactive report) or ``BOTH`` (in both)."""
    if index % 50 == 25:
        return BOTH
    if index % 7 == 6:
        return INACTIVE
    return ACTIVE


def malformed_email_index(members: int) -> int:
    """The one generated member whose email is malformed."""
    return min(7, members - 1)


_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix(value: int) -> int:
    """splitmix64's output function: a well-spread 64-bit value from a counter."""
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


class _Draw:
    """A tiny deterministic random source per row (``random.Random`` takes ~20 µs just to
    seed, which would make a 100,000-row report take seconds to render)."""

    __slots__ = ("_pool", "_state")

    def __init__(self, key: int) -> None:
        self._state = key & _MASK
        self._pool = 1

    def below(self, bound: int) -> int:
        """A number in ``[0, bound)`` (bias below one in a thousand for bounds < 2**30)."""
        if self._pool < (1 << 40):
            self._state = (self._state + _GOLDEN) & _MASK
            self._pool = (self._pool << 64) | _mix(self._state)
        self._pool, drawn = divmod(self._pool, bound)
        return drawn

    def choice(self, items: Sequence[T]) -> T:
        return items[self.below(len(items))]


@attrs.frozen
class _Generator:
    seed: int
    members: int

    def _rng(self, index: int, salt: int = 0) -> _Draw:
        return _Draw(self.seed * 1_000_003 + index * 7 + salt)

    # ----------------------------------------------------------------- members

    def person(self, index: int) -> JsonObject:
        """The fields every member row shares."""
        rng = self._rng(index)
        if index % 3 == 2:
            first, first_latin, gender = rng.choice(_ENGLISH_FIRST)
            last, last_latin = rng.choice(_ENGLISH_LAST)
        else:
            first, first_latin, gender = rng.choice(_HEBREW_FIRST)
            last, last_latin = rng.choice(_HEBREW_LAST)
        user_id = FIRST_MEMBER_ID + index
        email = f"{first_latin}.{last_latin}{user_id}@{rng.choice(_DOMAINS)}"
        if index == malformed_email_index(self.members):
            email = f"{first_latin}.{last_latin}{user_id}@@{rng.choice(_DOMAINS)}"
        elif index % 11 == 4:
            email = email.title()  # Arbox keeps what the member typed
        elif index % 13 == 3:
            email = f"  {email} "
        digits = rng.choice(_MOBILE_PREFIXES) + f"{rng.below(10_000_000):07d}"
        phone = _typed_phone(digits, index)
        if index % 31 == 0:
            gender = "other"
        elif index % 17 == 5:
            gender = ""
        if index % 10 == 9:
            birthday: str | None = "0000-00-00"
        elif index % 10 == 4:
            birthday = None
        else:
            birthday = (date(1960, 1, 1) + timedelta(days=rng.below(17_000))).isoformat()
        return {
            "first_name": first,
            "last_name": last,
            "email": email,
            "phone": phone,
            "birthday": birthday,
            "gender": gender,
        }

    def membership(self, index: int, *, active: bool) -> JsonObject:
        rng = self._rng(index, 1 if active else 2)
        plan = rng.choice(PLANS)
        name = UNKNOWN_PLAN_NAME if index % 97 == 13 else plan["membership_type_name"]
        months = int(plan["period_months"])
        if active:
            start = date(2026, 1, 1) + timedelta(days=rng.below(300))
            end: str | None = (start + timedelta(days=365 + 30 * months)).isoformat()
            if index % 113 == 1:
                end = "2024-01-31"  # an active status with a past end date
            elif index % 19 == 7:
                end = "0000-00-00"  # open-ended
        else:
            start = date(2023, 1, 1) + timedelta(days=rng.below(600))
            end = (start + timedelta(days=30 * months)).isoformat()
        return {
            "membership_type_name": name,
            "membership_start": start.isoformat(),
            "membership_end": end,
        }

    def user_row(self, index: int) -> JsonObject:
        """A Business API ``users`` row (an active member)."""
        return {
            "user_id": FIRST_MEMBER_ID + index,
            **self.person(index),
            "active": 1,
            "membership_type_id": None,
            **self.membership(index, active=True),
        }

    def report_row(self, index: int, *, active: bool) -> JsonObject:
        return {
            "user_fk": FIRST_MEMBER_ID + index,
            **self.person(index),
            **self.membership(index, active=active),
        }

    def detail(self, index: int) -> JsonObject:
        """``users/{id}`` data: the row plus the fields only this call gives."""
        rng = self._rng(index, 3)
        row = self.user_row(index)
        row["active"] = 0 if member_kind(index) == INACTIVE else 1
        extra_digits = rng.choice(_MOBILE_PREFIXES) + f"{rng.below(10_000_000):07d}"
        row.update(
            {
                "additional_phone": extra_digits if index % 4 == 0 else "",
                "personal_id": f"{10**8 + rng.below(9 * 10**8)}",
                "address": f"{rng.choice(_STREETS)} {1 + rng.below(199)}",
                "city": rng.choice(_CITIES),
                "zip_code": f"{10**6 + rng.below(9 * 10**6)}",
                "emergency_contact_name": rng.choice(_HEBREW_FIRST)[0],
                "emergency_contact_phone": _typed_phone(
                    rng.choice(_MOBILE_PREFIXES) + f"{rng.below(10_000_000):07d}", index + 1
                ),
                "medical_notes": "אסתמה" if index % 23 == 0 else None,
            }
        )
        return row

    # ----------------------------------------------------------------- leads

    def lead_row(self, index: int) -> JsonObject:
        rng = self._rng(index, 4)
        first, first_latin, _ = rng.choice(_HEBREW_FIRST + _ENGLISH_FIRST)
        last, last_latin = rng.choice(_HEBREW_LAST + _ENGLISH_LAST)
        lead_id = FIRST_LEAD_ID + index
        digits = rng.choice(_MOBILE_PREFIXES) + f"{rng.below(10_000_000):07d}"
        created = date(2026, 1, 1) + timedelta(days=rng.below(300))
        return {
            "user_id": lead_id,
            "first_name": first,
            "last_name": last,
            "email": None if index % 4 == 3 else f"{first_latin}.{last_latin}.{lead_id}@gmail.com",
            "phone": _typed_phone(digits, index if index % 4 != 3 else 0),
            "lead_status": rng.choice(_LEAD_STATUSES),
            "lead_source": rng.choice(_LEAD_SOURCES),
            "created_time": f"{created.isoformat()} {8 + rng.below(14):02d}:{rng.below(60):02d}:00",
        }


def _typed_phone(digits: str, index: int) -> str:
    """An Israeli mobile number (10 local digits) typed one of the ways people type it."""
    style = index % 6
    if style == 1:
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    if style == 2:
        return "+972" + digits[1:]
    if style == 3:
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    if style == 5 and index % 12 == 11:
        return ""
    return digits


def generate_dataset(members: int, *, seed: int = 1) -> DataSet:
    """N members (with plans, leads and details), the same for the same seed."""
    if members < 0:
        raise ValueError("members must not be negative")
    generator = _Generator(seed=seed, members=members)
    active = array("I", (i for i in range(members) if member_kind(i) != INACTIVE))
    inactive = array("I", (i for i in range(members) if member_kind(i) != ACTIVE))
    return DataSet(
        plans=PLANS,
        users=LazyRows(active, generator.user_row),
        active_report=LazyRows(active, lambda i: generator.report_row(i, active=True)),
        inactive_report=LazyRows(inactive, lambda i: generator.report_row(i, active=False)),
        leads=LazyRows(range(members // 20), generator.lead_row),
        details=_LazyDetails(members, generator.detail),
    )


def expected_counts(members: int) -> JsonObject:
    """How many generated members are active, inactive only and in both reports."""
    kinds = [member_kind(i) for i in range(members)]
    return {
        "members": members,
        "active_only": kinds.count(ACTIVE),
        "inactive_only": kinds.count(INACTIVE),
        "in_both_reports": kinds.count(BOTH),
        "leads": members // 20,
        "malformed_email_member": (
            FIRST_MEMBER_ID + malformed_email_index(members) if members else None
        ),
    }
