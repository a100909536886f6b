"""Arbox wire format: paths, headers, field names and how rows become source records.

Everything here is pure (no I/O). It follows the Arbox protocol profile (docs/imports.md) field by
field; every name the profile marks *(inferred)* is a constant or a mapping key in this module
and nowhere else, so a correction is a one-line change. Unknown extra fields are ignored.

Only wire quirks are undone here: text is trimmed, empty strings and Arbox's ``"0000-00-00"``
become ``None``, ids become strings. Validation (email syntax, E.164 phones, date ranges) is
the import engine's, so a bad value becomes a row error in the job's report.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from fitdata_core.money import Money
from fitdata_core.ports.providers import (
    SourceLead,
    SourceMember,
    SourceMemberDetail,
    SourcePlan,
)

PROVIDER = "arbox"

DEFAULT_BASE_URL = "https://arboxserver.arboxapp.com"

# ----------------------------------------------------------------------- Business API (v3)

BUSINESS_PREFIX = "/api/public/v3"
PATH_MEMBERSHIP_TYPES = f"{BUSINESS_PREFIX}/membershipTypes"
PATH_USERS = f"{BUSINESS_PREFIX}/users"
PATH_LEADS = f"{BUSINESS_PREFIX}/leads"
HEADER_API_KEY = "api-key"

#: ``limit`` is capped at 500 by Arbox; 200 is its default page size.
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 200


def user_path(user_id: str) -> str:
    """``users/{user_id}``: one member's detail (the enrichment call)."""
    return f"{PATH_USERS}/{user_id}"


# ----------------------------------------------------------------------- Management API

PATH_LOGIN = "/api/v2/login"
PATH_ACTIVE_REPORT = "/api/manage/v2/reports/activeMembersReport"
PATH_INACTIVE_REPORT = "/api/manage/v2/reports/inactiveMembersReport"  # (inferred)
HEADER_TOKEN = "token"  # noqa: S105 - a header name, not a secret
#: The panel sends these too; harmless when ignored (providers.md §2.3).
MANAGEMENT_HEADERS: Mapping[str, str] = {"manage": "system", "lang": "he"}

# ----------------------------------------------------------------------- field names

ZERO_DATES = frozenset({"0000-00-00", "0000-00-00 00:00:00"})

# Business API ``membershipTypes`` rows (price, sessions, period_months inferred).
PLAN_ID = "membership_type_id"
PLAN_NAME = "membership_type_name"
PLAN_PRICE = "price"
PLAN_SESSIONS = "sessions"  # null: unlimited
PLAN_PERIOD_MONTHS = "period_months"

#: Member fields shared by Business ``users`` rows and Management report rows, by the
#: ``SourceMember`` attribute they fill (the field list is inferred).
MEMBER_FIELDS: Mapping[str, str] = {
    "email": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "phone": "phone",
    "birth_date": "birthday",
    "gender": "gender",
    "plan_name": "membership_type_name",
    "membership_start": "membership_start",
    "membership_end": "membership_end",
}
USER_ID = "user_id"  # Business API rows
REPORT_USER_ID = "user_fk"  # Management report rows (the same id as ``user_id``)
USER_ACTIVE = "active"  # Business API rows; absent means active (the list is active only)

#: ``users/{id}`` detail fields by the ``SourceMemberDetail`` attribute (inferred).
DETAIL_FIELDS: Mapping[str, str] = {
    "additional_phone": "additional_phone",
    "personal_id": "personal_id",
    "address": "address",
    "city": "city",
    "zip_code": "zip_code",
    "emergency_contact_name": "emergency_contact_name",
    "emergency_contact_phone": "emergency_contact_phone",
    "medical_notes": "medical_notes",
}

#: ``leads`` rows by the ``SourceLead`` attribute.
LEAD_FIELDS: Mapping[str, str] = {
    "email": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "phone": "phone",
    "status": "lead_status",
    "source": "lead_source",
    "created_at": "created_time",
}

# Envelope of Business API answers.
ENVELOPE_DATA = "data"
ENVELOPE_EXTRA = "extra"
ENVELOPE_PAGINATION = "pagination"
PAGINATION_TOTAL_PAGES = "total_pages"
#: Error text in an error body: ``{"statusCode": 401, "error": "..."}`` (inferred).
ERROR_KEYS = ("error", "message")
LOGIN_TOKEN_KEYS = ("token",)  # one client also reads data.token; see read_token

JsonObject = dict[str, Any]


class WireError(ValueError):
    """An answer whose shape is not the profile's (e.g. a list where an object belongs)."""


# ----------------------------------------------------------------------- values


def text(row: Mapping[str, Any], key: str) -> str | None:
    """A trimmed string, or ``None`` for a missing, null, empty or all-zero-date value."""
    value = row.get(key)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Mapping | list):
        return None
    result = str(value).strip()
    if not result or result in ZERO_DATES:
        return None
    return result


def identifier(row: Mapping[str, Any], key: str) -> str:
    """An id as a string (Arbox sends ints); ``""`` when absent, left for the engine to
    report as a row error."""
    value = row.get(key)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return text({key: value}, key) or ""


def _integer(row: Mapping[str, Any], key: str) -> int | None:
    value = row.get(key)
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or number != number.to_integral_value():
        return None
    return int(number)


def _money(row: Mapping[str, Any], key: str) -> Money | None:
    value = row.get(key)
    if value is None or isinstance(value, bool):
        return None
    try:
        return Money(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError):
        return None


def _flag(row: Mapping[str, Any], key: str, *, default: bool) -> bool:
    value = row.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return str(value).strip().lower() not in {"0", "false", "no", "inactive", ""}


def _fields(row: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, str | None]:
    return {attribute: text(row, key) for attribute, key in fields.items()}


# ----------------------------------------------------------------------- rows


def read_plan(row: Mapping[str, Any]) -> SourcePlan | None:
    """A ``membershipTypes`` row; ``None`` for a row without a name (plans match by name)."""
    name = text(row, PLAN_NAME)
    if name is None:
        return None
    return SourcePlan(
        external_id=identifier(row, PLAN_ID),
        name=name,
        price=_money(row, PLAN_PRICE),
        session_count=_integer(row, PLAN_SESSIONS),
        period_months=_integer(row, PLAN_PERIOD_MONTHS),
    )


def read_business_member(row: Mapping[str, Any]) -> SourceMember:
    """A Business API ``users`` row (that list holds active members)."""
    return SourceMember(
        external_id=identifier(row, USER_ID),
        active=_flag(row, USER_ACTIVE, default=True),
        **_fields(row, MEMBER_FIELDS),
    )


def read_report_member(row: Mapping[str, Any], *, active: bool) -> SourceMember:
    """A Management report row; ``active`` says which report it came from."""
    return SourceMember(
        external_id=identifier(row, REPORT_USER_ID), active=active, **_fields(row, MEMBER_FIELDS)
    )


def read_detail(external_id: str, row: Mapping[str, Any]) -> SourceMemberDetail:
    """The detail fields of a ``users/{id}`` answer's ``data``."""
    return SourceMemberDetail(external_id=external_id, **_fields(row, DETAIL_FIELDS))


def read_lead(row: Mapping[str, Any]) -> SourceLead:
    """A ``leads`` row."""
    return SourceLead(external_id=identifier(row, USER_ID), **_fields(row, LEAD_FIELDS))


def rows(items: Iterable[Any]) -> Iterator[Mapping[str, Any]]:
    """The JSON objects of a list; anything else in it is not a row and is dropped."""
    return (item for item in items if isinstance(item, Mapping))


# ----------------------------------------------------------------------- envelopes


@attrs.frozen
class Page:
    """One Business API list page."""

    rows: list[Mapping[str, Any]]
    total_pages: int | None


def page_params(page: int, limit: int) -> dict[str, int]:
    """The query of a list request: 1-based ``page`` and ``limit``."""
    return {"page": page, "limit": limit}


def read_page(body: Any) -> Page:
    """``{"data": [...], "extra": {"pagination": {"total_pages": N, ...}}}``.

    ``next_page_url`` is deliberately not read: Arbox returns it with the wrong scheme and
    without the query, so the caller asks for ``page + 1`` itself.
    """
    if not isinstance(body, Mapping):
        raise WireError("a list answer is not a JSON object")
    data = body.get(ENVELOPE_DATA)
    if data is None:
        data = []
    if not isinstance(data, list):
        raise WireError("a list answer's data is not a list")
    extra = body.get(ENVELOPE_EXTRA)
    pagination = extra.get(ENVELOPE_PAGINATION) if isinstance(extra, Mapping) else None
    total_pages = (
        _integer(pagination, PAGINATION_TOTAL_PAGES) if isinstance(pagination, Mapping) else None
    )
    return Page(rows=list(rows(data)), total_pages=total_pages)


def read_object(body: Any) -> Mapping[str, Any]:
    """The ``data`` object of a single-record answer (``{"statusCode": 200, "data": {...}}``)."""
    data = body.get(ENVELOPE_DATA) if isinstance(body, Mapping) else None
    if not isinstance(data, Mapping):
        raise WireError("a record answer's data is not an object")
    return data


def read_report(body: Any) -> list[Any]:
    """A Management report: a bare JSON array (an enveloped one is accepted too)."""
    if isinstance(body, Mapping) and isinstance(body.get(ENVELOPE_DATA), list):
        body = body[ENVELOPE_DATA]
    if not isinstance(body, list):
        raise WireError("a report answer is not a JSON array")
    return body


def read_token(body: Any) -> str:
    """The session token of a login answer: top-level ``token`` (or ``data.token``)."""
    for container in (body, body.get(ENVELOPE_DATA) if isinstance(body, Mapping) else None):
        if isinstance(container, Mapping):
            for key in LOGIN_TOKEN_KEYS:
                value = container.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()
    raise WireError("the login answer carries no token")


def error_text(body: Any, *, limit: int = 200) -> str | None:
    """Arbox's own error text from an error body, shortened; ``None`` when there is none."""
    if not isinstance(body, Mapping):
        return None
    for key in ERROR_KEYS:
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:limit]
    return None


def login_body(email: str, password: str) -> JsonObject:
    """``POST /api/v2/login`` body."""
    return {"email": email, "password": password}


# ----------------------------------------------------------------------- merging


def merge_reports(active: Iterable[Any], inactive: Iterable[Any]) -> dict[str, SourceMember]:
    """Both Management reports merged by ``user_fk``, in report order.

    A member in both is active (active wins, with the active report's values); within one
    report the first row of an id wins. Rows without an id are kept apart (under a key no id
    can take) so the engine can report them.
    """
    merged: dict[str, SourceMember] = {}
    for source, is_active in ((active, True), (inactive, False)):
        for index, row in enumerate(rows(source)):
            member = read_report_member(row, active=is_active)
            key = member.external_id or f"\x00{int(is_active)}:{index}"
            merged.setdefault(key, member)
    return merged
