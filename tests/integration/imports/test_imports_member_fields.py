"""``memberFields`` over HTTP, on Postgres, from the Arbox sandbox: only the fields set to true
are written; the others are treated as not given (never overwriting a stored value, absent on a
new member); bad flags get a 400 saying what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from support.arbox_world import LOGIN, World

pytestmark = pytest.mark.integration

MEMBERS_ONLY = {"members": True}


def _row(user_fk: int, **fields: Any) -> dict[str, Any]:
    return {
        "user_fk": user_fk,
        "first_name": "Dana",
        "last_name": "Levi",
        "email": f"m{user_fk}@fields-gym.io",
        "phone": "052-123-4567",
        "birthday": "1990-04-01",
        "gender": "female",
        "membership_type_name": None,
        "membership_start": "2026-01-01",
        "membership_end": "2026-12-31",
        **fields,
    }


async def test_only_the_fields_set_to_true_are_written(world: World) -> None:
    world.arbox.sandbox.set_data(active_report=[_row(1)], inactive_report=[])
    first = await world.run(**LOGIN, entities=MEMBERS_ONLY)
    assert first["status"] == "completed", first

    # Arbox changes the name, the phone and the end date; the gym's phone numbers were fixed
    # by hand, so this import writes the names only. A new member comes along too.
    world.arbox.sandbox.set_data(
        active_report=[
            _row(1, first_name="Dina", phone="054-999-8888", membership_end="2027-06-30"),
            _row(2, first_name="Noa"),
        ]
    )
    second = await world.run(
        **LOGIN,
        entities=MEMBERS_ONLY,
        memberFields={"firstName": True, "lastName": True, "phone": False},
    )
    members = await world.members()

    assert second["status"] == "completed", second
    assert second["config"]["memberFields"] == ["firstName", "lastName"]
    assert second["results"]["members"]["updated"] == 1
    assert second["results"]["members"]["created"] == 1
    changed = members["m1@fields-gym.io"]
    assert changed["firstName"] == "Dina"
    assert changed["phone"] == "+972521234567"  # stored value kept, not Arbox's new one
    assert changed["membershipEnd"] == "2026-12-31"  # not listed: not overwritten
    assert changed["status"] == "active"  # the status is always written
    new = members["m2@fields-gym.io"]
    assert (new["firstName"], new["lastName"]) == ("Noa", "Levi")
    assert (new["phone"], new["membershipStart"], new["membershipEnd"]) == (None, None, None)
    assert new["profile"]["birthDate"] is None
    assert new["profile"]["gender"] is None


async def test_a_field_left_out_is_not_checked_either(world: World) -> None:
    """A bad value in a field the import does not write is neither imported nor an error."""
    world.arbox.sandbox.set_data(
        active_report=[_row(3, phone="not a phone", birthday="1990-13-45")], inactive_report=[]
    )
    job = await world.run(**LOGIN, entities=MEMBERS_ONLY, memberFields={"firstName": True})
    assert job["status"] == "completed", job
    assert job["results"]["members"]["created"] == 1
    assert job["errors"] == []
    everything = await world.run(**LOGIN, entities=MEMBERS_ONLY)
    assert {e["field"] for e in everything["errors"]} >= {"phone"}


@pytest.mark.parametrize(
    ("member_fields", "field", "says"),
    [
        ({"firstName": True, "nickname": True}, "memberFields", "unknown field(s) nickname"),
        ({"email": False}, "memberFields", "unknown field(s) email"),
        ({"phone": "yes"}, "memberFields.phone", "must be true or false"),
        (["firstName"], "memberFields", "must be an object of true/false flags"),
    ],
)
async def test_bad_member_fields_get_a_400_saying_what_is_allowed(
    world: World, member_fields: Any, field: str, says: str
) -> None:
    response = await world.client.post(
        world.base,
        json={"source": "arbox", "entities": MEMBERS_ONLY, **LOGIN, "memberFields": member_fields},
        headers=world.owner,
    )
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["field"] == field
    assert says in problem["detail"]
    if "unknown" in says or "object" in says:
        assert "firstName, lastName, phone, birthDate, gender, planName" in problem["detail"]
    jobs = await world.client.get(f"{world.base}/jobs", headers=world.owner)
    assert jobs.json()["data"] == []  # nothing was queued
