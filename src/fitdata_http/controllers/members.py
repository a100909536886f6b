"""``/organizations/{orgId}/members``: the vertical slice every org-scoped controller copies.

The pattern: a Controller under ``ORG_PATH`` with ``security = BEARER``; handlers take
``services: ServicesDep``, ``actor: ActorDep`` and ``org_id: OrgIdDep`` (all injected), call
one use case, and return ``ok(...)`` / ``created(...)`` / ``paged(...)``. Authorization (404
unknown org, 403 wrong role or other org) happens inside the use case; errors map to problems
in one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import attrs
from litestar import Controller, get
from litestar.params import QueryParameter

from fitdata_core.model.organizations import MemberProfile, MemberRow, MembershipStatus, Role
from fitdata_core.ports.repositories import JsonShape, MemberFilter
from fitdata_core.usecases import members
from fitdata_http.contract import answers
from fitdata_http.deps import ActorDep, OrgIdDep, ServicesDep
from fitdata_http.envelope import Envelope, paged_rendered
from fitdata_http.openapi import BEARER
from fitdata_http.params import ORG_PATH, Cursor, Limit, Offset

__all__ = ["MEMBER_SHAPE", "MemberProfileView", "MemberView", "MembersController"]


@attrs.frozen
class MemberProfileView:
    birth_date: str | None
    gender: str | None
    address: str | None
    city: str | None
    notes: str | None
    zip_code: str | None
    additional_phone: str | None
    emergency_contact_name: str | None
    emergency_contact_phone: str | None
    external_source: str | None
    external_id: str | None
    updated_at: datetime | None

    @classmethod
    def of(cls, profile: MemberProfile) -> MemberProfileView:
        return cls(
            birth_date=profile.birth_date,
            gender=profile.gender,
            address=profile.address,
            city=profile.city,
            notes=profile.notes,
            zip_code=profile.zip_code,
            additional_phone=profile.additional_phone,
            emergency_contact_name=profile.emergency_contact_name,
            emergency_contact_phone=profile.emergency_contact_phone,
            external_source=profile.external_source,
            external_id=profile.external_id,
            updated_at=profile.updated_at,
        )


@attrs.frozen
class MemberView:
    """One member as the API shows it: membership, user and (optional) profile flattened."""

    user_id: str
    membership_id: str
    email: str
    first_name: str | None
    last_name: str | None
    phone: str | None
    role: Role
    status: MembershipStatus
    joined_at: datetime
    profile: MemberProfileView | None
    membership_start: str | None = None
    membership_end: str | None = None

    @classmethod
    def of(cls, row: MemberRow) -> MemberView:
        return cls(
            user_id=row.user.id,
            membership_id=row.membership.id,
            email=row.user.email,
            first_name=row.user.first_name,
            last_name=row.user.last_name,
            phone=row.user.phone,
            role=row.membership.role,
            status=row.membership.status,
            joined_at=row.membership.created_at,
            profile=MemberProfileView.of(row.profile) if row.profile is not None else None,
            membership_start=row.membership.start_date,
            membership_end=row.membership.end_date,
        )


MEMBER_SHAPE = JsonShape(
    (
        ("userId", "user.id"),
        ("membershipId", "membership.id"),
        ("email", "user.email"),
        ("firstName", "user.first_name"),
        ("lastName", "user.last_name"),
        ("phone", "user.phone"),
        ("role", "membership.role"),
        ("status", "membership.status"),
        ("joinedAt", "membership.created_at"),
        (
            "profile",
            JsonShape(
                (
                    ("birthDate", "profile.birth_date"),
                    ("gender", "profile.gender"),
                    ("address", "profile.address"),
                    ("city", "profile.city"),
                    ("notes", "profile.notes"),
                    ("zipCode", "profile.zip_code"),
                    ("additionalPhone", "profile.additional_phone"),
                    ("emergencyContactName", "profile.emergency_contact_name"),
                    ("emergencyContactPhone", "profile.emergency_contact_phone"),
                    ("externalSource", "profile.external_source"),
                    ("externalId", "profile.external_id"),
                    ("updatedAt", "profile.updated_at"),
                )
            ),
        ),
        ("membershipStart", "membership.start_date"),
        ("membershipEnd", "membership.end_date"),
    )
)
""":class:`MemberView` as the shape the store writes each member of the list in (on
Postgres, the database writes the JSON; see :mod:`fitdata_core.rules.member_json`).

``MemberView`` stays the documented shape (the OpenAPI schema is generated from it); a test
holds this shape to the converter's output for the view of any row, and another holds
Postgres's objects to the same values."""


_ROLE_HELP = "Only members with one of these roles (repeat the parameter: ?role=owner&role=admin)."
_STATUS_HELP = (
    "Only members with one of these membership statuses (repeat the parameter: "
    "?status=active&status=invited)."
)


class MembersController(Controller):
    path = ORG_PATH + "/members"
    tags = ["members"]  # noqa: RUF012 - Litestar reads these as class attributes
    security = BEARER

    @get(
        "/",
        summary="List the organization's members (owner, admin, coach)",
        opt=answers(MemberView, shape="page"),
    )
    async def list_members(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        role: Annotated[list[Role] | None, QueryParameter(description=_ROLE_HELP)] = None,
        status: Annotated[
            list[MembershipStatus] | None, QueryParameter(description=_STATUS_HELP)
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
        cursor: Cursor = None,
    ) -> Envelope:
        member_filter = MemberFilter(roles=frozenset(role or ()), statuses=frozenset(status or ()))
        page = await members.list_member_json(
            services,
            actor,
            org_id,
            member_filter,
            MEMBER_SHAPE,
            limit=limit,
            offset=offset,
            cursor=cursor,
        )
        return paged_rendered(page)
