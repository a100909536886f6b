"""Organizations (gyms), users and their memberships."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import attrs

from fitdata_core.model.tiers import PlatformTier


@attrs.frozen
class Organization:
    id: str
    name: str
    platform_tier: PlatformTier
    created_at: datetime

    def with_tier(self, tier: PlatformTier) -> Organization:
        return attrs.evolve(self, platform_tier=tier)


def normalize_email(email: str) -> str:
    """The canonical form used for uniqueness: emails are unique case-insensitively."""
    return email.strip().lower()


@attrs.frozen
class User:
    id: str
    email: str
    first_name: str | None
    last_name: str | None
    phone: str | None
    created_at: datetime
    is_platform_admin: bool = False

    @property
    def email_normalized(self) -> str:
        return normalize_email(self.email)


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    COACH = "coach"
    MEMBER = "member"


class MembershipStatus(StrEnum):
    ACTIVE = "active"
    INVITED = "invited"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    INACTIVE = "inactive"  # imported from a source that lists the member as inactive


@attrs.frozen
class Membership:
    id: str
    organization_id: str
    user_id: str
    role: Role
    status: MembershipStatus
    created_at: datetime
    plan_id: str | None = None
    #: The membership's term as the source gave it (ISO ``YYYY-MM-DD``), when known.
    start_date: str | None = None
    end_date: str | None = None

    @property
    def is_active(self) -> bool:
        return self.status is MembershipStatus.ACTIVE


@attrs.frozen
class MemberProfile:
    """Gym-specific details of a member; optional beside the membership."""

    organization_id: str
    user_id: str
    birth_date: str | None = None
    gender: str | None = None
    address: str | None = None
    city: str | None = None
    notes: str | None = None
    zip_code: str | None = None
    additional_phone: str | None = None
    emergency_contact_name: str | None = None
    emergency_contact_phone: str | None = None
    external_source: str | None = None
    external_id: str | None = None
    updated_at: datetime | None = None


@attrs.frozen
class MemberRow:
    """Read view: a membership joined to its user and (left-joined) profile."""

    membership: Membership
    user: User
    profile: MemberProfile | None
