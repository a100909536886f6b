"""A new member's undo-log row (``NEW_MEMBER``) reads back as the three changes the Python
rules record, whether it was written with the profile's empty enrichment fields (before
they were left out) or without them."""

from __future__ import annotations

from fitdata_adapters.db.repositories.pg_member_apply import NEW_MEMBER, expand_change
from fitdata_core.rules.import_merge import CREATED, ENRICH_FIELDS, RowChange

PROFILE = {"birth_date": "1990-12-31", "gender": None, "external_source": "csv", "external_id": "d"}
AFTER = {
    "user": {"first_name": "דנה", "last_name": "לוי", "phone": "+972501234567"},
    "membership_id": "m-1",
    "membership": {"role": "member", "status": "active", "plan_id": None},
}


def test_the_empty_enrichment_fields_come_back_in_the_profile_change() -> None:
    short = expand_change(RowChange(NEW_MEMBER, "u-1", CREATED, {**AFTER, "profile": PROFILE}))
    full_profile = {**PROFILE, **dict.fromkeys(ENRICH_FIELDS)}
    full = expand_change(RowChange(NEW_MEMBER, "u-1", CREATED, {**AFTER, "profile": full_profile}))
    assert short == full
    assert short == [
        RowChange("user", "u-1", CREATED, AFTER["user"]),
        RowChange("membership", "m-1", CREATED, AFTER["membership"]),
        RowChange("profile", "u-1", CREATED, full_profile),
    ]
    assert list(short[2].after) == [*PROFILE, *ENRICH_FIELDS]  # the rules' order


def test_a_stored_enrichment_value_is_kept() -> None:
    profile = {**PROFILE, "city": "Haifa"}
    (_, _, change) = expand_change(
        RowChange(NEW_MEMBER, "u-1", CREATED, {**AFTER, "profile": profile})
    )
    assert change.after["city"] == "Haifa"
    assert change.after["address"] is None
