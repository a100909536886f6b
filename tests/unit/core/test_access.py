"""The role table: who may do what in an organization."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitdata_core.access import ALLOWED_ROLES, Action, may, require, require_feature
from fitdata_core.errors import FeatureNotInTier, PermissionDenied
from fitdata_core.model.organizations import Membership, MembershipStatus, Role
from fitdata_core.model.tiers import Feature, PlatformTier


def membership(role: Role, status: MembershipStatus = MembershipStatus.ACTIVE) -> Membership:
    return Membership("m1", "org", "user", role, status, datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        (Action.EXPORT, {Role.OWNER, Role.ADMIN}),
        (Action.IMPORT, {Role.OWNER, Role.ADMIN}),
        (Action.READ_ANALYTICS, {Role.OWNER, Role.ADMIN}),
        (Action.CHANGE_BILLING, {Role.OWNER}),
        (Action.READ_BILLING, set(Role)),
        (Action.READ_MEMBERS, {Role.OWNER, Role.ADMIN, Role.COACH}),
    ],
)
def test_roles_allowed_per_action(action: Action, allowed: set[Role]) -> None:
    assert {role for role in Role if may(membership(role), action)} == allowed


def test_export_refusal_uses_the_spec_message() -> None:
    with pytest.raises(PermissionDenied, match=r"^Only owners and admins can export data\.$"):
        require(membership(Role.MEMBER), Action.EXPORT)


def test_no_membership_is_refused() -> None:
    with pytest.raises(PermissionDenied):
        require(None, Action.READ_BILLING)


@given(
    role=st.sampled_from(Role),
    status=st.sampled_from([s for s in MembershipStatus if s is not MembershipStatus.ACTIVE]),
    action=st.sampled_from(Action),
)
def test_only_active_memberships_grant_anything(
    role: Role, status: MembershipStatus, action: Action
) -> None:
    assert not may(membership(role, status), action)
    with pytest.raises(PermissionDenied):
        require(membership(role, status), action)


@given(role=st.sampled_from(Role), action=st.sampled_from(Action))
def test_require_agrees_with_the_table(role: Role, action: Action) -> None:
    m = membership(role)
    if role in ALLOWED_ROLES[action]:
        assert require(m, action) is m
    else:
        with pytest.raises(PermissionDenied):
            require(m, action)


def test_feature_guard_message_names_the_feature() -> None:
    with pytest.raises(FeatureNotInTier) as excinfo:
        require_feature(PlatformTier.LITE, Feature.COURSES)
    assert str(excinfo.value) == 'Feature "courses" requires a higher platform tier'
    require_feature(PlatformTier.PRO, Feature.COURSES)
