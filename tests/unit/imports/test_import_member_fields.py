"""``memberFields``: which fields are written, what is refused, and what a member keeps."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitdata_core.errors import InvalidInput
from fitdata_core.ports.providers import SourceMember
from fitdata_core.usecases.imports import MEMBER_FIELD_ATTRIBUTES, written_member_fields
from fitdata_core.usecases.imports.member_fields import keep_member_fields

MEMBER = SourceMember(
    external_id="7",
    email="dana@example.com",
    first_name="Dana",
    last_name="Levi",
    phone="052-1234567",
    active=False,
    birth_date="1990-04-01",
    gender="female",
    plan_name="Gold",
    membership_start="2026-01-01",
    membership_end="2026-12-31",
)


def test_only_true_flags_are_written_in_canonical_order() -> None:
    flags = {"phone": True, "firstName": True, "gender": False, "planName": None}
    assert written_member_fields(flags) == ("firstName", "phone")
    assert written_member_fields({}) == ()


@pytest.mark.parametrize(
    ("flags", "field", "says"),
    [
        (
            {"nickname": True},
            "memberFields",
            "unknown field(s) nickname; allowed fields: firstName",
        ),
        ({"email": True, "status": False}, "memberFields", "unknown field(s) email, status"),
        ({"phone": 1}, "memberFields.phone", "memberFields.phone must be true or false"),
        (["phone"], "memberFields", "must be an object of true/false flags"),
    ],
)
def test_bad_flags_say_what_to_fix(flags: Any, field: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        written_member_fields(flags)
    assert caught.value.field == field
    assert says in caught.value.message


@given(st.sets(st.sampled_from(sorted(MEMBER_FIELD_ATTRIBUTES))))
def test_a_member_keeps_exactly_the_written_fields(written: set[str]) -> None:
    kept = keep_member_fields(MEMBER, written)
    for name, attribute in MEMBER_FIELD_ATTRIBUTES.items():
        expected = getattr(MEMBER, attribute) if name in written else None
        assert getattr(kept, attribute) == expected
    # The match key, the id and the status are never dropped.
    assert (kept.email, kept.external_id, kept.active) == ("dana@example.com", "7", False)
