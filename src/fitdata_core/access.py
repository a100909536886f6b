"""Who may do what inside an organization.

One table from action to the roles that may perform it; every use case asks
:func:`require` before touching data. Only active memberships grant anything.
"""

from __future__ import annotations

from enum import StrEnum

import attrs

from fitdata_core.errors import FeatureNotInTier, PermissionDenied
from fitdata_core.model.organizations import Membership, Role
from fitdata_core.model.tiers import Feature, PlatformTier, features_of

__all__ = [
    "ALLOWED_ROLES",
    "DENIAL_MESSAGES",
    "Action",
    "OrgAccess",
    "may",
    "require",
    "require_active_member",
    "require_feature",
]


class Action(StrEnum):
    """What a caller may ask to do in an organization (:data:`ALLOWED_ROLES`: which roles may)."""

    READ_MEMBERS = "read_members"
    READ_PLANS = "read_plans"
    MANAGE_CATALOG = "manage_catalog"
    EXPORT = "export"
    IMPORT = "import"
    READ_ANALYTICS = "read_analytics"
    READ_BILLING = "read_billing"
    CHANGE_BILLING = "change_billing"


@attrs.frozen
class OrgAccess:
    """A user's standing in an organization as one read found it: whether the organization
    exists, and the user's membership in it if any (what :func:`require` is asked about)."""

    org_id: str
    org_exists: bool
    membership: Membership | None


_ALL = frozenset(Role)
_STAFF = frozenset({Role.OWNER, Role.ADMIN, Role.COACH})
_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})

ALLOWED_ROLES: dict[Action, frozenset[Role]] = {
    Action.READ_MEMBERS: _STAFF,
    Action.READ_PLANS: _ALL,
    Action.MANAGE_CATALOG: _MANAGERS,
    Action.EXPORT: _MANAGERS,
    Action.IMPORT: _MANAGERS,
    Action.READ_ANALYTICS: _MANAGERS,
    Action.READ_BILLING: _ALL,
    Action.CHANGE_BILLING: frozenset({Role.OWNER}),
}

_DEFAULT_DENIAL = "Your role in this organization does not allow this."

# The messages the product spec names for particular refusals.
DENIAL_MESSAGES: dict[Action, str] = {
    Action.EXPORT: "Only owners and admins can export data.",
    Action.IMPORT: "Only owners and admins can import data.",
    Action.READ_ANALYTICS: "Only owners and admins can read analytics.",
    Action.CHANGE_BILLING: "Only the organization owner can change billing.",
}


def may(membership: Membership | None, action: Action) -> bool:
    """Whether ``membership`` (active, with an allowed role) may perform ``action``."""
    return (
        membership is not None and membership.is_active and membership.role in ALLOWED_ROLES[action]
    )


def require(membership: Membership | None, action: Action) -> Membership:
    """Return the membership if it may perform ``action``; raise PermissionDenied otherwise."""
    if membership is None or not may(membership, action):
        raise PermissionDenied(DENIAL_MESSAGES.get(action, _DEFAULT_DENIAL))
    return membership


def require_active_member(membership: Membership | None) -> Membership:
    """Return the membership if it is active, whatever its role; raise PermissionDenied otherwise.

    The tier guard asks this before it looks at the tier: an outsider must get the same answer
    from a lite organization as from a pro one, or the refusal tells them the tier.
    """
    if membership is None or not membership.is_active:
        raise PermissionDenied(_DEFAULT_DENIAL)
    return membership


def require_feature(tier: PlatformTier, feature: Feature) -> None:
    """The tier guard's core check."""
    if feature not in features_of(tier):
        raise FeatureNotInTier(feature.value)
