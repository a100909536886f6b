"""``memberFields``: which member fields an import writes.

The request's ``memberFields`` is an object of flags, ``{"firstName": true, "phone": true}``
(like ``entities``): the fields set to ``true`` are written; a field ``false``, ``null`` or
left out is treated as not given by the source, so it never overwrites a stored value (and a new
member is created without it). Without ``memberFields`` every field the source gives is
written. The email (the match key) and the membership status are always written.

A field left out is dropped before the row is checked, so a bad value in it (a birthday Arbox
got wrong) is neither imported nor reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from fitdata_core.errors import InvalidInput
from fitdata_core.ports.providers import SourceMember

#: The request's field names, by the ``SourceMember`` attribute each one governs.
MEMBER_FIELD_ATTRIBUTES: Mapping[str, str] = {
    "firstName": "first_name",
    "lastName": "last_name",
    "phone": "phone",
    "birthDate": "birth_date",
    "gender": "gender",
    "planName": "plan_name",
    "membershipStart": "membership_start",
    "membershipEnd": "membership_end",
}
FIELD = "memberFields"


def _allowed() -> str:
    return ", ".join(MEMBER_FIELD_ATTRIBUTES)


def written_member_fields(flags: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields ``flags`` (the request's ``memberFields``) says to write, in the canonical
    order. ``InvalidInput`` (400) naming the allowed fields for an unknown name or a value
    that is not ``true`` or ``false``."""
    if not isinstance(flags, Mapping):
        raise InvalidInput(
            f"memberFields must be an object of true/false flags, e.g. "
            f'{{"firstName": true, "phone": true}}; allowed fields: {_allowed()}.',
            field=FIELD,
        )
    unknown = sorted(str(name) for name in flags if name not in MEMBER_FIELD_ATTRIBUTES)
    if unknown:
        raise InvalidInput(
            f"memberFields has unknown field(s) {', '.join(unknown)}; allowed fields: "
            f"{_allowed()} (the email and the membership status are always written).",
            field=FIELD,
        )
    not_flags = sorted(
        name for name, value in flags.items() if value is not None and not isinstance(value, bool)
    )
    if not_flags:
        raise InvalidInput(
            f"memberFields.{not_flags[0]} must be true or false.", field=f"{FIELD}.{not_flags[0]}"
        )
    return tuple(name for name in MEMBER_FIELD_ATTRIBUTES if flags.get(name) is True)


def keep_member_fields(member: SourceMember, written: Iterable[str]) -> SourceMember:
    """``member`` with every field not in ``written`` (request names) as not given."""
    kept = set(written)
    dropped: dict[str, Any] = {
        attribute: None
        for name, attribute in MEMBER_FIELD_ATTRIBUTES.items()
        if name not in kept and getattr(member, attribute) is not None
    }
    return attrs.evolve(member, **dropped) if dropped else member


__all__ = ["MEMBER_FIELD_ATTRIBUTES", "keep_member_fields", "written_member_fields"]
