"""Header rows made usable: trimmed, empty ones named or dropped, duplicates made unique."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitdata_core.errors import InvalidInput
from fitdata_core.rules.csv_table import clean_headers


def test_names_are_trimmed_and_a_bom_removed() -> None:
    cleaned = clean_headers(["\ufeffEmail ", " Phone"])
    assert cleaned.names == ("Email", "Phone")
    assert cleaned.warnings == ()


def test_blank_trailing_columns_are_dropped_silently() -> None:
    cleaned = clean_headers(["Email", "Phone", "", " ", None])
    assert cleaned.names == ("Email", "Phone")
    assert cleaned.width == 2
    assert cleaned.warnings == ()


def test_an_empty_header_between_named_ones_is_named_and_reported() -> None:
    cleaned = clean_headers(["Email", "", "Phone"])
    assert cleaned.names == ("Email", "Column 2", "Phone")
    assert cleaned.warnings == ("Column 2 has no header; it is called 'Column 2'.",)


def test_duplicates_get_a_suffix_and_are_reported() -> None:
    cleaned = clean_headers(["Phone", "Email", "phone", "Phone", "Phone (2)"])
    assert cleaned.names == ("Phone", "Email", "phone (2)", "Phone (3)", "Phone (2) (2)")
    assert cleaned.warnings[0] == (
        "Header 'phone' appears more than once (columns 1 and 3); column 3 is called 'phone (2)'."
    )
    assert len(cleaned.warnings) == 3


@pytest.mark.parametrize("row", [[], [""], ["", " ", None]])
def test_a_row_of_nothing_is_refused(row: list[str | None]) -> None:
    with pytest.raises(InvalidInput, match="names no columns"):
        clean_headers(row)


@given(st.lists(st.one_of(st.none(), st.text(max_size=8)), min_size=1, max_size=12))
def test_property_names_are_unique_non_empty_and_keep_named_columns_in_place(
    raw: list[str | None],
) -> None:
    try:
        cleaned = clean_headers(raw)
    except InvalidInput:
        assert not any((name or "").replace("\ufeff", "").strip() for name in raw)
        return
    names = cleaned.names
    assert all(name.strip() for name in names)
    assert len({name.casefold() for name in names}) == len(names)
    assert len(names) <= len(raw)
    for index, name in enumerate(names):
        original = (raw[index] or "").replace("\ufeff", "").strip()
        if original:
            assert name == original or name.startswith(original + " (")
