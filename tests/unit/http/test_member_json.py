"""The member list's JSON (each member rendered in ``MEMBER_SHAPE``) is what the converter
makes of the documented view (``MemberView``), for any row. (On Postgres the database writes
the objects; tests/integration/contracts/test_contract_member_json_pages.py holds those to
this renderer.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitdata_adapters.converter import unstructure
from fitdata_core.model.organizations import MemberRow, MembershipStatus, Role
from fitdata_core.ports.repositories import JsonShape
from fitdata_core.rules.member_json import render_member_json
from fitdata_http.controllers.members import MEMBER_SHAPE, MemberView
from support import builders

_text = st.none() | st.text(max_size=12)
_aware = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).flatmap(
    # Any offset: the JSON must come out in UTC all the same.
    lambda moment: st.integers(-14 * 60, 14 * 60).map(
        lambda minutes: moment.astimezone(timezone(timedelta(minutes=minutes)))
    )
)


@st.composite
def _rows(draw: st.DrawFn) -> MemberRow:
    org_id = builders.new_id()
    user = builders.user(
        first_name=draw(_text), last_name=draw(_text), phone=draw(_text), email=draw(st.emails())
    )
    membership = builders.membership(
        org_id,
        user.id,
        role=draw(st.sampled_from(Role)),
        status=draw(st.sampled_from(MembershipStatus)),
        created_at=draw(_aware),
        start_date=draw(_text),
        end_date=draw(_text),
    )
    profile = None
    if draw(st.booleans()):
        profile = builders.profile(
            org_id,
            user.id,
            birth_date=draw(_text),
            gender=draw(_text),
            address=draw(_text),
            city=draw(_text),
            notes=draw(_text),
            zip_code=draw(_text),
            additional_phone=draw(_text),
            emergency_contact_name=draw(_text),
            emergency_contact_phone=draw(_text),
            external_source=draw(_text),
            external_id=draw(_text),
            updated_at=draw(st.none() | _aware),
        )
    return MemberRow(membership=membership, user=user, profile=profile)


@given(_rows())
def test_the_rendered_member_is_the_converters_view_of_the_row(row: MemberRow) -> None:
    assert json.loads(render_member_json(row, MEMBER_SHAPE)) == unstructure(MemberView.of(row))


def test_the_rendered_member_writes_a_non_utc_time_in_utc() -> None:
    org_id = builders.new_id()
    user = builders.user()
    at = datetime(2026, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    row = MemberRow(
        membership=builders.membership(org_id, user.id, created_at=at), user=user, profile=None
    )

    assert json.loads(render_member_json(row, MEMBER_SHAPE))["joinedAt"] == "2026-03-01T08:00:00Z"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ((("a", "user.email"), ("a", "user.phone")), "repeats a key"),
        ((("a", "user.password"),), "unknown member attribute"),
        ((("p", JsonShape((("a", "user.email"), ("b", "profile.city")))),), "exactly one part"),
    ],
)
def test_a_shape_that_cannot_be_written_is_refused(
    fields: tuple[tuple[str, str | JsonShape], ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        JsonShape(fields)
