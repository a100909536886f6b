"""Organizations (gyms), users and their memberships."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

import attrs

from fitdata_core.model.tiers import PlatformTier

__all__ = [
    "MemberProfile",
    "MemberRow",
    "Membership",
    "MembershipStatus",
    "Organization",
    "Role",
    "User",
    "normalize_email",
]


@attrs.frozen
class Organization:
    """A gym: its name and the platform tier it is on."""

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
    """A person with a login (one email), who may belong to several organizations."""

    id: str
    email: str
    first_name: str | None
    last_name: str | None
    phone: str | None
    created_at: datetime
    is_platform_admin: bool = False
    # Bearer tokens issued before this instant are refused; None: none are.
    tokens_valid_after: datetime | None = None

    @property
    def email_normalized(self) -> str:
        return normalize_email(self.email)

    def revoke_tokens(self, at: datetime) -> User:
        """The user with every token issued up to ``at`` refused from now on.

        Tokens carry their issue time in whole seconds, so the cut-off is the next whole
        second: a token issued in the same second as the revocation is refused too (the safe
        side), and one issued a second later is accepted.
        """
        cutoff = at.replace(microsecond=0) + timedelta(seconds=1)
        return attrs.evolve(self, tokens_valid_after=cutoff)

    def accepts_token_issued_at(self, issued_at: datetime) -> bool:
        """Whether a token issued at ``issued_at`` survived every revocation."""
        return self.tokens_valid_after is None or issued_at >= self.tokens_valid_after

    def with_platform_admin(self, flag: bool) -> User:
        return attrs.evolve(self, is_platform_admin=flag)


class Role(StrEnum):
    """What a person is in an organization; roles decide what they may do
    (:mod:`fitdata_core.access`)."""

    OWNER = "owner"
    ADMIN = "admin"
    COACH = "coach"
    MEMBER = "member"


class MembershipStatus(StrEnum):
    """Whether a membership is in force; only active ones grant access."""

    ACTIVE = "active"
    INVITED = "invited"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    INACTIVE = "inactive"  # imported from a source that lists the member as inactive


@attrs.frozen
class Membership:
    """A user's place in an organization: role and status."""

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
