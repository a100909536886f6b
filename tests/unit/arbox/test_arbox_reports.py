"""The Management reports read from disk: the incremental JSON array reader and the merge by
``user_fk`` in a temporary SQLite table (the same answer as ``wire.merge_reports``)."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitdata_adapters.arbox import wire
from fitdata_adapters.arbox.reports import ACTIVE, INACTIVE, ReportSpool, iter_json_array

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(json_values, max_size=8),
    read_size=st.integers(1, 17),
    indent=st.sampled_from([None, 1]),
)
def test_reading_in_small_pieces_gives_every_element_with_its_own_text(
    items: list[Any], read_size: int, indent: int | None
) -> None:
    text = json.dumps(items, indent=indent, default=str, ensure_ascii=False)
    expected = json.loads(text, parse_float=Decimal)
    found = list(iter_json_array(io.StringIO(text), read_size=read_size))
    assert [item for item, _ in found] == expected
    assert [json.loads(raw, parse_float=Decimal) for _, raw in found] == expected


def test_a_number_split_across_two_reads_is_read_whole() -> None:
    found = list(iter_json_array(io.StringIO("[12345678, 9]"), read_size=3))
    assert [item for item, _ in found] == [12345678, 9]


def test_an_enveloped_report_is_read_too() -> None:
    found = list(iter_json_array(io.StringIO('{"data": [{"user_fk": 1}]}')))
    assert [item for item, _ in found] == [{"user_fk": 1}]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ('"rows"', "not a JSON array"),
        ('[{"user_fk": 1}', "ends inside"),
        ('[{"user_fk": 1} {"user_fk": 2}]', "between two rows"),
        ('[{"user_fk": 1], ', "not valid JSON"),
        ('{"rows": []}', "not a JSON array"),
    ],
)
def test_what_is_not_a_json_array_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(wire.WireError, match=says):
        list(iter_json_array(io.StringIO(text), read_size=4))


def row(user_fk: Any, **fields: Any) -> dict[str, Any]:
    return {"user_fk": user_fk, "first_name": "Dana", "email": f"u{user_fk}@example.com", **fields}


def spooled(active: list[Any], inactive: list[Any], chunk: int) -> list[list[Any]]:
    spool = ReportSpool()
    try:
        for report, rows in ((ACTIVE, active), (INACTIVE, inactive)):
            with spool.file(report) as sink:
                sink.write(json.dumps(rows).encode())
        spool.merge()
        chunks, position = [], 0
        while True:
            members, position = spool.read(position, chunk)
            if not members:
                return chunks
            chunks.append(members)
    finally:
        spool.close()


def test_the_spool_merges_like_the_in_memory_merge_active_wins_and_status_kept() -> None:
    active = [row(1, membership_type_name="Gold"), row(2), "garbage", row(None)]
    inactive = [
        row(2, membership_type_name="Old plan"),
        row(3),
        row(3, first_name="duplicate"),
        row(None),
    ]
    chunks = spooled(active, inactive, chunk=2)
    assert [len(c) for c in chunks] == [2, 2, 1]
    members = [m for c in chunks for m in c]
    assert members == list(wire.merge_reports(active, inactive).values())
    assert [(m.external_id, m.active) for m in members] == [
        ("1", True),
        ("2", True),
        ("", True),
        ("3", False),
        ("", False),
    ]
    assert members[1].plan_name is None  # the active row's values, not the inactive one's
    assert members[3].first_name == "Dana"  # within a report the first row of an id wins


@settings(max_examples=60, deadline=None)
@given(
    active_ids=st.lists(st.integers(1, 30), max_size=25),
    inactive_ids=st.lists(st.integers(1, 30), max_size=25),
    chunk=st.integers(1, 7),
)
def test_the_spool_always_agrees_with_the_in_memory_merge(
    active_ids: list[int], inactive_ids: list[int], chunk: int
) -> None:
    active = [row(i, last_name=f"a{n}") for n, i in enumerate(active_ids)]
    inactive = [row(i, last_name=f"i{n}") for n, i in enumerate(inactive_ids)]
    members = [m for c in spooled(active, inactive, chunk) for m in c]
    assert members == list(wire.merge_reports(active, inactive).values())
    assert all(len(c) <= chunk for c in spooled(active, inactive, chunk))


def test_close_removes_the_files() -> None:
    spool = ReportSpool()
    with spool.file(ACTIVE) as sink:
        sink.write(b"[]")
    with spool.file(INACTIVE) as sink:
        sink.write(b"[]")
    spool.merge()
    folder = spool.path(ACTIVE).parent
    assert folder.exists()
    spool.close()
    assert not folder.exists()
