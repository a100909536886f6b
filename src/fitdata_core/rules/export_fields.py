"""The columns a members export may contain, and the request that picks them.

Each column has a stable key (what the API takes in ``fields``), the header label written to
the CSV, and how to read its value from a :class:`~fitdata_core.model.organizations.MemberRow`.

=============  ================  =================================================  =======
key            header            value                                              default
=============  ================  =================================================  =======
firstName      First name        the user's first name                              yes
lastName       Last name         the user's last name                               yes
email          Email             the user's email (stored lower-case)               yes
phone          Phone             the user's phone, E.164                            yes
role           Role              owner / admin / coach / member                     yes
status         Status            active / invited / suspended / cancelled           yes
joinedAt       Joined at         when the membership was created (ISO 8601, UTC)    yes
birthDate      Birth date        profile birth date (as stored, usually YYYY-MM-DD) yes
gender         Gender            profile gender                                     yes
address        Address           profile street address                             yes
city           City              profile city                                       yes
notes          Notes             the gym's free-text notes on the member            no
membershipId   Membership ID     fitdata's membership id                            no
userId         User ID           fitdata's user id                                  no
=============  ================  =================================================  =======

The default set is what an owner hands an accountant or another system: who the person is,
how to reach them and where they stand. Notes are left out unless asked for because they are
internal remarks (sometimes health details) that should not leave the gym by accident; the ids
only matter to someone re-importing into fitdata.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from fitdata_core.errors import InvalidInput
from fitdata_core.model.organizations import MemberRow, MembershipStatus, Role
from fitdata_core.ports.repositories import MemberFilter, member_attribute

__all__ = [
    "DEFAULT_EXPORT_FIELDS",
    "EXPORT_FIELDS",
    "ExportField",
    "MemberExportRequest",
    "member_export_request",
]


@attrs.frozen
class ExportField:
    """One column of a members export: ``attribute`` is the ``MemberRow`` path it shows
    (one of :data:`~fitdata_core.ports.repositories.MEMBER_ATTRIBUTES`)."""

    key: str
    header: str
    attribute: str
    default: bool

    def read(self, row: MemberRow) -> object:
        """This column's value for ``row`` (an enum as its value)."""
        return member_attribute(row, self.attribute)


_CATALOGUE: tuple[ExportField, ...] = (
    ExportField("firstName", "First name", "user.first_name", True),
    ExportField("lastName", "Last name", "user.last_name", True),
    ExportField("email", "Email", "user.email", True),
    ExportField("phone", "Phone", "user.phone", True),
    ExportField("role", "Role", "membership.role", True),
    ExportField("status", "Status", "membership.status", True),
    ExportField("joinedAt", "Joined at", "membership.created_at", True),
    ExportField("membershipStart", "Membership start", "membership.start_date", True),
    ExportField("membershipEnd", "Membership end", "membership.end_date", True),
    ExportField("birthDate", "Birth date", "profile.birth_date", True),
    ExportField("gender", "Gender", "profile.gender", True),
    ExportField("address", "Address", "profile.address", True),
    ExportField("city", "City", "profile.city", True),
    ExportField("notes", "Notes", "profile.notes", False),
    ExportField("zipCode", "Zip code", "profile.zip_code", False),
    ExportField("additionalPhone", "Additional phone", "profile.additional_phone", False),
    ExportField(
        "emergencyContactName", "Emergency contact", "profile.emergency_contact_name", False
    ),
    ExportField(
        "emergencyContactPhone",
        "Emergency contact phone",
        "profile.emergency_contact_phone",
        False,
    ),
    ExportField("membershipId", "Membership ID", "membership.id", False),
    ExportField("userId", "User ID", "user.id", False),
)

EXPORT_FIELDS: Mapping[str, ExportField] = {f.key: f for f in _CATALOGUE}
"""Every exportable column by key, in catalogue order."""

DEFAULT_EXPORT_FIELDS: tuple[str, ...] = tuple(f.key for f in _CATALOGUE if f.default)
"""The columns, in order, of an export that names no ``fields``."""


@attrs.frozen
class MemberExportRequest:
    """A validated, normalised members export request (what an export job's config holds).

    ``roles`` and ``statuses`` are empty for "no filter" and kept in their enum order;
    ``fields`` are the columns in the order they will be written.
    """

    roles: tuple[Role, ...]
    statuses: tuple[MembershipStatus, ...]
    fields: tuple[str, ...]

    @property
    def member_filter(self) -> MemberFilter:
        return MemberFilter(roles=frozenset(self.roles), statuses=frozenset(self.statuses))

    @property
    def header(self) -> tuple[str, ...]:
        return tuple(EXPORT_FIELDS[key].header for key in self.fields)

    @property
    def attributes(self) -> tuple[str, ...]:
        """The ``MemberRow`` attribute paths of the columns, in column order."""
        return tuple(EXPORT_FIELDS[key].attribute for key in self.fields)

    def to_config(self) -> dict[str, Any]:
        """The JSON-safe form stored in ``ExportJob.config``."""
        return {
            "roles": [r.value for r in self.roles],
            "statuses": [s.value for s in self.statuses],
            "fields": list(self.fields),
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MemberExportRequest:
        """Read a stored config back; raises ``InvalidInput`` if it is no longer valid."""
        return member_export_request(
            roles=config.get("roles"), statuses=config.get("statuses"), fields=config.get("fields")
        )


def _allowed(values: Iterable[str]) -> str:
    return ", ".join(values)


def _pick(
    name: str, given: Iterable[str] | None, allowed: Sequence[str], what: str
) -> tuple[str, ...]:
    """``given`` deduplicated, each checked against ``allowed``; names the first bad value."""
    if given is None:
        return ()
    if isinstance(given, str):
        raise InvalidInput(f"{name} must be a list of {what}s.", field=name)
    picked: list[str] = []
    for value in given:
        if not isinstance(value, str) or value not in allowed:
            raise InvalidInput(
                f"Unknown {what} {value!r} in {name}; allowed: {_allowed(allowed)}.", field=name
            )
        if value not in picked:
            picked.append(value)
    return tuple(picked)


def member_export_request(
    *,
    roles: Iterable[str] | None = None,
    statuses: Iterable[str] | None = None,
    fields: Iterable[str] | None = None,
) -> MemberExportRequest:
    """Validate and normalise what the caller asked for.

    Unknown values raise ``InvalidInput`` with ``field`` set to ``"roles"``, ``"statuses"`` or
    ``"fields"`` and a message naming the bad value and listing the allowed ones. Duplicates are
    dropped (the first occurrence keeps its place); no roles or statuses means every member;
    no fields means :data:`DEFAULT_EXPORT_FIELDS`.
    """
    role_values = [r.value for r in Role]
    status_values = [s.value for s in MembershipStatus]
    picked_roles = set(_pick("roles", roles, role_values, "role"))
    picked_statuses = set(_pick("statuses", statuses, status_values, "status"))
    picked_fields = _pick("fields", fields, list(EXPORT_FIELDS), "field")
    return MemberExportRequest(
        roles=tuple(r for r in Role if r.value in picked_roles),
        statuses=tuple(s for s in MembershipStatus if s.value in picked_statuses),
        fields=picked_fields or DEFAULT_EXPORT_FIELDS,
    )
