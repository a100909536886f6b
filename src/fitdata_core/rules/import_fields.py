"""The fields a CSV or Excel column can be mapped to, in one place.

A confirmed column mapping has the spec's shape, ``{"memberFields": {"<csv header>": "<field>"},
"planFields": {...}}``: each section maps file headers to the keys below. Members and leads share
the member vocabulary (a lead is a person too); plans have their own.

Member fields (``memberFields``):

===============  ======  ==========================================================
key              kind    notes
===============  ======  ==========================================================
email            email   required for members (they are matched by email)
firstName        text
lastName         text
fullName         name    split at the first space into first and last name, where
                         the row has no first/last name column of its own
phone            phone   Excel's lost leading zero restored (``csv_values``)
birthDate        date    ISO ``YYYY-MM-DD``; two-digit years read as past years
gender           text
planName         text    links the membership to the org's plan of that name
status           text
membershipStart  date
membershipEnd    date
address          text
city             text
zipCode          text
notes            text
===============  ======  ==========================================================

Plan fields (``planFields``): ``name`` and ``price`` (both required to import plans: no plan
is invented without a price), ``sessionCount`` and ``periodMonths``.

Each field has exact header ``aliases`` (English and Hebrew) and ``keywords``, which may appear
inside a longer header ("Member e-mail", "טלפון נייד"). Both are compared after
:func:`fitdata_core.rules.csv_mapping.normalize_header`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import attrs

__all__ = [
    "MEMBER_FIELDS",
    "PLAN_FIELDS",
    "FieldKind",
    "ImportField",
]


class FieldKind(StrEnum):
    """What a field's values are, which decides the CSV-specific fixes they get."""

    TEXT = "text"
    EMAIL = "email"
    PHONE = "phone"
    DATE = "date"
    BIRTH_DATE = "birth_date"  # a date in the past: two-digit years are read accordingly
    FULL_NAME = "full_name"
    NUMBER = "number"


@attrs.frozen
class ImportField:
    """One target field: its key in a mapping, its kind, and the headers that suggest it."""

    key: str
    kind: FieldKind
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


_MEMBER: tuple[ImportField, ...] = (
    ImportField(
        "email",
        FieldKind.EMAIL,
        aliases=(
            "email",
            "e-mail",
            "email address",
            "e-mail address",
            "mail",
            "אימייל",
            "אי-מייל",
            "מייל",
            'דוא"ל',
            "דואר אלקטרוני",
            "כתובת מייל",
            "כתובת אימייל",
            'כתובת דוא"ל',
        ),
        keywords=("email", "e-mail", "אימייל", "מייל", 'דוא"ל'),
    ),
    ImportField(
        "firstName",
        FieldKind.TEXT,
        aliases=("first name", "firstname", "first", "given name", "fname", "שם פרטי", "פרטי"),
        keywords=("first name", "given name", "שם פרטי"),
    ),
    ImportField(
        "lastName",
        FieldKind.TEXT,
        aliases=(
            "last name",
            "lastname",
            "last",
            "surname",
            "family name",
            "lname",
            "שם משפחה",
            "משפחה",
        ),
        keywords=("last name", "surname", "family name", "שם משפחה"),
    ),
    ImportField(
        "fullName",
        FieldKind.FULL_NAME,
        aliases=(
            "full name",
            "fullname",
            "name",
            "member name",
            "client name",
            "customer name",
            "שם מלא",
            "שם",
            "שם המנוי",
            "שם לקוח",
            "שם מתאמן",
        ),
        keywords=("full name", "שם מלא"),
    ),
    ImportField(
        "phone",
        FieldKind.PHONE,
        aliases=(
            "phone",
            "phone number",
            "mobile",
            "mobile phone",
            "mobile number",
            "cell",
            "cellphone",
            "cell phone",
            "telephone",
            "tel",
            "טלפון",
            "נייד",
            "טלפון נייד",
            "פלאפון",
            "סלולרי",
            "מספר טלפון",
        ),
        keywords=("phone", "mobile", "telephone", "טלפון", "נייד", "פלאפון"),
    ),
    ImportField(
        "birthDate",
        FieldKind.BIRTH_DATE,
        aliases=(
            "birthday",
            "birth date",
            "birthdate",
            "date of birth",
            "dob",
            "תאריך לידה",
            "יום הולדת",
        ),
        keywords=("birth", "birthday", "לידה", "יום הולדת"),
    ),
    ImportField("gender", FieldKind.TEXT, aliases=("gender", "sex", "מין", "מגדר")),
    ImportField(
        "planName",
        FieldKind.TEXT,
        aliases=(
            "plan",
            "plan name",
            "membership",
            "membership type",
            "membership name",
            "subscription",
            "מנוי",
            "סוג מנוי",
            "שם מנוי",
            "תוכנית",
            "מסלול",
        ),
        keywords=("plan", "membership type", "סוג מנוי"),
    ),
    ImportField("status", FieldKind.TEXT, aliases=("status", "member status", "סטטוס", "מצב")),
    ImportField(
        "membershipStart",
        FieldKind.DATE,
        aliases=(
            "start",
            "start date",
            "membership start",
            "joined",
            "join date",
            "member since",
            "תאריך התחלה",
            "תחילת מנוי",
            "תאריך הצטרפות",
        ),
        keywords=("start date", "join date", "תאריך התחלה", "הצטרפות"),
    ),
    ImportField(
        "membershipEnd",
        FieldKind.DATE,
        aliases=(
            "end",
            "end date",
            "membership end",
            "expiry",
            "expiry date",
            "expiration date",
            "expires",
            "valid until",
            "תאריך סיום",
            "סיום מנוי",
            "תוקף",
            "תאריך תפוגה",
        ),
        keywords=("end date", "expiry", "expiration", "תאריך סיום", "תפוגה"),
    ),
    ImportField(
        "address",
        FieldKind.TEXT,
        aliases=("address", "street", "street address", "כתובת", "רחוב"),
        keywords=("address", "street"),
    ),
    ImportField("city", FieldKind.TEXT, aliases=("city", "town", "עיר", "ישוב", "יישוב")),
    ImportField(
        "zipCode",
        FieldKind.TEXT,
        aliases=("zip", "zip code", "zipcode", "postal code", "postcode", "מיקוד"),
        keywords=("postal code", "zip code", "מיקוד"),
    ),
    ImportField(
        "notes",
        FieldKind.TEXT,
        aliases=("notes", "note", "comments", "comment", "remarks", "הערות", "הערה"),
    ),
)

_PLAN: tuple[ImportField, ...] = (
    ImportField(
        "name",
        FieldKind.TEXT,
        aliases=("plan", "plan name", "membership type", "מנוי", "סוג מנוי", "שם מנוי", "מסלול"),
    ),
    ImportField(
        "price",
        FieldKind.NUMBER,
        aliases=("price", "plan price", "cost", "amount", "fee", "מחיר", "עלות", "סכום"),
        keywords=("price", "מחיר"),
    ),
    ImportField(
        "sessionCount",
        FieldKind.NUMBER,
        aliases=("sessions", "session count", "entries", "visits", "כניסות", "מספר כניסות"),
    ),
    ImportField(
        "periodMonths",
        FieldKind.NUMBER,
        aliases=("months", "period", "duration", "period months", "חודשים", "תקופה", "משך"),
    ),
)

MEMBER_FIELDS: Mapping[str, ImportField] = {f.key: f for f in _MEMBER}
"""Every field a ``memberFields`` mapping may name, by key (members and leads)."""

PLAN_FIELDS: Mapping[str, ImportField] = {f.key: f for f in _PLAN}
"""Every field a ``planFields`` mapping may name, by key."""
