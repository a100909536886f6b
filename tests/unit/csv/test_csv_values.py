"""CSV value fixes: Excel's lost phone zeros, per-column date orders, serials, two-digit years."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitdata_core.rules.csv_values import (
    DateOrder,
    DateOrderEvidence,
    FixKind,
    UnusableValue,
    fix_date,
    fix_phone,
)
from fitdata_core.rules.validation import validate_phone

TODAY = date(2026, 12, 2)


class TestFixPhone:
    @pytest.mark.parametrize(
        ("value", "fixed", "kind"),
        [
            ("521234567", "0521234567", FixKind.PHONE_LEADING_ZERO),
            ("541112233", "0541112233", FixKind.PHONE_LEADING_ZERO),
            ("722223333", "0722223333", FixKind.PHONE_LEADING_ZERO),  # VoIP 07x
            ("36123456", "036123456", FixKind.PHONE_LEADING_ZERO),  # Tel Aviv landline
            ("21234567", "021234567", FixKind.PHONE_LEADING_ZERO),  # Jerusalem landline
            ("972521234567", "+972521234567", FixKind.PHONE_COUNTRY_CODE),
            ("9720521234567", "+972521234567", FixKind.PHONE_COUNTRY_CODE),
            ("97236123456", "+97236123456", FixKind.PHONE_COUNTRY_CODE),
            ("521234567.0", "0521234567", FixKind.PHONE_LEADING_ZERO),
            (" 521234567 ", "0521234567", FixKind.PHONE_LEADING_ZERO),
        ],
    )
    def test_excel_damage_is_undone(self, value: str, fixed: str, kind: FixKind) -> None:
        assert fix_phone(value) == (fixed, kind)

    @pytest.mark.parametrize(
        "value",
        [
            "0521234567",
            "+972521234567",
            "052-123-4567",
            "(03) 612-3456",
            "",
            "12345",  # too short to be an Israeli number: left to the engine's rule
            "15551234567",  # a US number: not ours to touch
        ],
    )
    def test_good_or_foreign_phones_are_left_alone(self, value: str) -> None:
        assert fix_phone(value) == (value, None)

    def test_other_scripts_digits_are_not_touched(self) -> None:
        assert fix_phone("٥٢١٢٣٤٥٦٧") == ("٥٢١٢٣٤٥٦٧", None)

    def test_a_number_cell_of_a_foreign_phone_only_loses_its_decimal(self) -> None:
        assert fix_phone("15551234567.0") == ("15551234567", FixKind.PHONE_FROM_NUMBER)

    @pytest.mark.parametrize("value", ["5.21235E+08", "5,21E+08", "9.72521E+11", "5E8"])
    def test_scientific_notation_is_refused(self, value: str) -> None:
        with pytest.raises(UnusableValue, match="scientific notation"):
            fix_phone(value)

    @given(st.from_regex(r"0(5[0-9]{8}|[23489][0-9]{7})", fullmatch=True))
    def test_property_any_israeli_number_survives_excel(self, national: str) -> None:
        # Excel drops the zero; the fix brings back the number the owner typed, and the
        # engine's E.164 rule then reads it the same as the original.
        damaged = str(int(national))
        fixed, kind = fix_phone(damaged)
        assert fixed == national
        assert kind is FixKind.PHONE_LEADING_ZERO
        assert validate_phone(fixed) == validate_phone(national)

    @given(st.from_regex(r"(5[0-9]{8}|[23489][0-9]{7})", fullmatch=True))
    def test_property_international_form_without_plus(self, national: str) -> None:
        fixed, _ = fix_phone("972" + national)
        assert fixed == "+972" + national
        assert validate_phone(fixed) == validate_phone("0" + national)

    @given(st.text(max_size=20))
    def test_property_never_raises_except_unusable(self, value: str) -> None:
        try:
            fixed, _ = fix_phone(value)
        except UnusableValue:
            return
        assert fixed == fixed.strip()


class TestFixDate:
    @pytest.mark.parametrize(
        ("value", "order", "iso"),
        [
            ("25/03/2024", DateOrder.DAY_FIRST, "2024-03-25"),
            ("03/25/2024", DateOrder.MONTH_FIRST, "2024-03-25"),
            ("3/4/2024", DateOrder.DAY_FIRST, "2024-04-03"),
            ("3/4/2024", DateOrder.MONTH_FIRST, "2024-03-04"),
            ("25.03.2024", DateOrder.DAY_FIRST, "2024-03-25"),
            ("25-03-2024", DateOrder.DAY_FIRST, "2024-03-25"),
            ("2024-03-25", DateOrder.MONTH_FIRST, "2024-03-25"),
            ("2024/3/5", DateOrder.DAY_FIRST, "2024-03-05"),
            ("2024-03-25 00:00:00", DateOrder.DAY_FIRST, "2024-03-25"),
            ("2024-03-25T10:30:00", DateOrder.DAY_FIRST, "2024-03-25"),
            ("25/03/2024 10:30", DateOrder.DAY_FIRST, "2024-03-25"),
            ("20240325", DateOrder.DAY_FIRST, "2024-03-25"),
        ],
    )
    def test_formats(self, value: str, order: DateOrder, iso: str) -> None:
        assert fix_date(value, order, today=TODAY) == (iso, None)

    def test_excel_serial_numbers(self) -> None:
        assert fix_date("45000", DateOrder.DAY_FIRST, today=TODAY) == (
            "2023-03-15",
            FixKind.DATE_EXCEL_SERIAL,
        )
        assert fix_date("45000.0", DateOrder.DAY_FIRST, today=TODAY)[0] == "2023-03-15"
        assert fix_date("32874", DateOrder.DAY_FIRST, today=TODAY)[0] == "1990-01-01"

    def test_a_bare_year_is_not_a_serial(self) -> None:
        with pytest.raises(UnusableValue, match="a year, not a date"):
            fix_date("1990", DateOrder.DAY_FIRST, today=TODAY)

    @pytest.mark.parametrize(
        ("value", "past", "iso"),
        [
            ("25/03/90", True, "1990-03-25"),
            ("25/03/26", True, "2026-03-25"),  # this year is not after this year
            ("01/01/10", True, "2010-01-01"),
            ("25/03/27", True, "1927-03-25"),  # a birthday cannot be in 2027
            ("31/12/27", False, "2027-12-31"),  # a membership may end next year
            ("01/01/50", False, "1950-01-01"),
        ],
    )
    def test_two_digit_years(self, value: str, past: bool, iso: str) -> None:
        assert fix_date(value, DateOrder.DAY_FIRST, today=TODAY, past=past) == (
            iso,
            FixKind.DATE_TWO_DIGIT_YEAR,
        )

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            ("31/02/2024", "not a calendar date"),
            ("yesterday", "not a date"),
            ("03/25/2024", "cannot be dd/mm/yyyy like the rest of its column"),
            ("2024-13-01", "not a calendar date"),
            ("99999999", "not a date"),
            ("0", "not a date"),
        ],
    )
    def test_unusable_values_say_why(self, value: str, reason: str) -> None:
        with pytest.raises(UnusableValue, match=reason):
            fix_date(value, DateOrder.DAY_FIRST, today=TODAY)

    def test_empty_stays_empty(self) -> None:
        assert fix_date("  ", DateOrder.DAY_FIRST, today=TODAY) == ("", None)

    @given(st.dates(min_value=date(1901, 1, 1), max_value=date(2099, 12, 31)), st.booleans())
    def test_property_every_written_form_reads_back(self, day: date, dmy: bool) -> None:
        order = DateOrder.DAY_FIRST if dmy else DateOrder.MONTH_FIRST
        first, second = (day.day, day.month) if dmy else (day.month, day.day)
        written = f"{first:02d}/{second:02d}/{day.year}"
        assert fix_date(written, order, today=TODAY) == (day.isoformat(), None)
        assert fix_date(day.isoformat(), order, today=TODAY) == (day.isoformat(), None)
        serial = (day - date(1899, 12, 30)).days
        if not 1900 <= serial <= 2099:
            assert fix_date(str(serial), order, today=TODAY)[0] == day.isoformat()

    @given(st.dates(min_value=date(1927, 12, 3), max_value=TODAY))
    def test_property_two_digit_birth_years_land_in_the_last_century(self, day: date) -> None:
        written = f"{day.day}/{day.month}/{day.year % 100:02d}"
        iso, _ = fix_date(written, DateOrder.DAY_FIRST, today=TODAY, past=True)
        assert iso == day.isoformat()

    @given(st.text(max_size=25))
    def test_property_any_text_is_iso_or_unusable(self, value: str) -> None:
        try:
            iso, _ = fix_date(value, DateOrder.DAY_FIRST, today=TODAY)
        except UnusableValue:
            return
        assert iso == "" or date.fromisoformat(iso).isoformat() == iso


class TestDateOrderEvidence:
    def evidence(self, *values: str) -> DateOrderEvidence:
        found = DateOrderEvidence()
        for value in values:
            found.observe(value)
        return found

    def test_a_first_part_above_twelve_decides_day_first(self) -> None:
        found = self.evidence("03/04/2024", "05/06/2024", "25/03/2024")
        assert found.decided
        assert not found.is_ambiguous
        assert found.order is DateOrder.DAY_FIRST

    def test_a_second_part_above_twelve_decides_month_first(self) -> None:
        found = self.evidence("03/04/2024", "12/31/2024")
        assert found.order is DateOrder.MONTH_FIRST
        assert not found.is_conflicting

    def test_only_small_parts_is_ambiguous_and_defaults_to_day_first(self) -> None:
        found = self.evidence("03/04/2024", "1/2/90", "")
        assert found.is_ambiguous
        assert found.order is DateOrder.DAY_FIRST

    def test_both_ways_is_conflicting_and_the_majority_wins(self) -> None:
        found = self.evidence("12/31/2024", "12/30/2024", "31/12/2024")
        assert found.is_conflicting
        assert found.order is DateOrder.MONTH_FIRST

    def test_other_shapes_say_nothing(self) -> None:
        found = self.evidence("2024-03-25", "45000", "hello", "0521234567")
        assert not found.seen

    @given(
        st.lists(
            st.dates(min_value=date(1950, 1, 1), max_value=date(2030, 12, 31)),
            min_size=1,
            max_size=30,
        ),
        st.booleans(),
    )
    def test_property_a_written_column_is_never_decided_the_wrong_way(
        self, days: list[date], dmy: bool
    ) -> None:
        written = [
            f"{d.day}/{d.month}/{d.year}" if dmy else f"{d.month}/{d.day}/{d.year}" for d in days
        ]
        found = self.evidence(*written)
        expected = DateOrder.DAY_FIRST if dmy else DateOrder.MONTH_FIRST
        assert not found.is_conflicting
        if any(d.day > 12 for d in days):
            assert found.order is expected
            for value, day in zip(written, days, strict=True):
                assert fix_date(value, found.order, today=TODAY)[0] == day.isoformat()
        else:
            assert found.is_ambiguous


def test_serial_epoch_matches_excel() -> None:
    # Excel shows 1 as 1900-01-01 and (after its phantom 1900-02-29) 61 as 1900-03-01; the
    # 1899-12-30 epoch gives every serial from 61 on, and we accept from 1901.
    assert date(1899, 12, 30) + timedelta(days=61) == date(1900, 3, 1)
    assert fix_date("367", DateOrder.DAY_FIRST, today=TODAY)[0] == "1901-01-01"
