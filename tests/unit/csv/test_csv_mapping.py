"""Column mappings: suggested from headers and values, validated, applied to rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitdata_core.errors import InvalidInput
from fitdata_core.rules.csv_mapping import (
    ColumnMapping,
    FixTally,
    RowMapper,
    date_orders,
    headers_fingerprint,
    normalize_header,
    recall_mapping,
    split_full_name,
    suggest_mapping,
    validate_mapping,
)
from fitdata_core.rules.csv_table import ColumnProfile
from fitdata_core.rules.csv_values import DateOrder, FixKind
from fitdata_core.rules.import_fields import MEMBER_FIELDS, PLAN_FIELDS

TODAY = date(2026, 12, 2)


def profile_of(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> ColumnProfile:
    profile = ColumnProfile(tuple(headers))
    for row in rows:
        profile.observe(list(row))
    return profile


def suggested(headers: Sequence[str], rows: Sequence[Sequence[str]] = ()) -> dict[str, str]:
    profile = profile_of(headers, rows) if rows else None
    return dict(suggest_mapping(headers, profile, today=TODAY).member_fields)


class TestNormalizeHeader:
    @pytest.mark.parametrize(
        ("header", "normal"),
        [
            (" E-Mail_Address ", "e mail address"),
            ("FIRST  NAME", "first name"),
            ('דוא"ל', "דואל"),
            ("דוא״ל", "דואל"),  # gershayim
            ("דוא'ל", "דואל"),
            ("שֵׁם פְּרָטִי", "שם פרטי"),  # vowel points dropped
            ("Phone #", "phone"),
            ("Téléphone", "telephone"),
        ],
    )
    def test_forms(self, header: str, normal: str) -> None:
        assert normalize_header(header) == normal

    @given(st.text(max_size=30))
    def test_property_idempotent(self, header: str) -> None:
        once = normalize_header(header)
        assert normalize_header(once) == once


class TestSuggestFromHeaders:
    def test_english_headers(self) -> None:
        headers = ["E-mail", "First Name", "Last Name", "Mobile", "Date of Birth", "Plan", "City"]
        assert suggested(headers) == {
            "E-mail": "email",
            "First Name": "firstName",
            "Last Name": "lastName",
            "Mobile": "phone",
            "Date of Birth": "birthDate",
            "Plan": "planName",
            "City": "city",
        }

    def test_hebrew_headers(self) -> None:
        headers = ["שם פרטי", "שם משפחה", "דוא״ל", "נייד", "תאריך לידה", "מנוי", "מין", "כתובת"]
        assert suggested(headers) == {
            "שם פרטי": "firstName",
            "שם משפחה": "lastName",
            "דוא״ל": "email",
            "נייד": "phone",
            "תאריך לידה": "birthDate",
            "מנוי": "planName",
            "מין": "gender",
            "כתובת": "address",
        }

    @pytest.mark.parametrize(
        ("header", "field"),
        [
            ("אימייל", "email"),
            ('דוא"ל', "email"),
            ("EMAIL", "email"),
            ("email address", "email"),
            ("טלפון", "phone"),
            ("phone number", "phone"),
            ("birthday", "birthDate"),
            ("שם מלא", "fullName"),
            ("Full name", "fullName"),
            ("gender", "gender"),
            ("status", "status"),
            ("סטטוס", "status"),
            ("עיר", "city"),
            ("Start date", "membershipStart"),
            ("תאריך סיום", "membershipEnd"),
            ("zip", "zipCode"),
            ("הערות", "notes"),
        ],
    )
    def test_aliases(self, header: str, field: str) -> None:
        assert suggested([header]) == {header: field}

    def test_keywords_inside_longer_headers(self) -> None:
        headers = ["Member E-mail", "טלפון נייד של המתאמן", "Customer first name"]
        assert suggested(headers) == {
            "Member E-mail": "email",
            "טלפון נייד של המתאמן": "phone",
            "Customer first name": "firstName",
        }

    def test_someone_elses_phone_is_not_the_members(self) -> None:
        headers = ["Emergency contact phone", "טלפון נוסף", "Phone 2"]
        assert suggested(headers) == {}

    def test_each_field_once_and_the_first_column_wins(self) -> None:
        assert suggested(["Phone", "Mobile", "טלפון"]) == {"Phone": "phone"}

    def test_exact_alias_beats_a_keyword_in_an_earlier_column(self) -> None:
        assert suggested(["Work phone", "Phone"]) == {"Phone": "phone"}

    def test_garbled_headers_give_an_empty_suggestion(self) -> None:
        assert suggested(["Ã©Ã¨", "ï»¿??", "x1"]) == {}

    def test_plans_are_suggested_only_with_a_price(self) -> None:
        without = suggest_mapping(["Email", "Plan"], today=TODAY)
        assert without.plan_fields == {}
        priced = suggest_mapping(["Email", "Plan", "מחיר", "כניסות"], today=TODAY)
        assert priced.member_fields["Plan"] == "planName"
        assert priced.plan_fields == {"Plan": "name", "מחיר": "price", "כניסות": "sessionCount"}

    def test_suggestion_passes_its_own_validation(self) -> None:
        headers = ["Email", "Name", "Phone", "Plan", "Price"]
        mapping = suggest_mapping(headers, today=TODAY)
        assert validate_mapping(mapping.to_json(), headers, plans=True) == mapping


class TestSuggestFromValues:
    def test_a_column_of_emails_is_the_email_column(self) -> None:
        rows = [["dana@example.com", "Dana"], ["yossi@example.co.il", "Yossi"], ["", ""]]
        assert suggested(["col1", "col2"], rows) == {"col1": "email"}

    def test_a_column_of_phones_is_the_phone_column(self) -> None:
        rows = [["052-1234567", "a"], ["521234567", "b"], ["+972 54 111 2233", "c"]]
        assert suggested(["contact", "x"], rows) == {"contact": "phone"}

    def test_old_dates_are_birthdays_recent_ones_are_not(self) -> None:
        rows = [["25/03/1990", "01/11/2026"], ["03/04/1985", "15/10/2026"]]
        assert suggested(["d1", "d2"], rows) == {"d1": "birthDate"}

    def test_a_mixed_column_is_not_guessed(self) -> None:
        rows = [["dana@example.com"], ["not an email"], ["call me"], ["n/a"], ["x"]]
        assert suggested(["who"], rows) == {}

    def test_headers_win_over_values(self) -> None:
        rows = [["dana@example.com", "yossi@example.com"]]
        assert suggested(["Notes", "Email"], rows) == {"Notes": "notes", "Email": "email"}


class TestValidateMapping:
    HEADERS = ("Email", "First", "Phone", "Plan", "Price")

    def test_the_spec_shape_is_accepted(self) -> None:
        mapping = validate_mapping(
            {"memberFields": {"Email": "email", "First": "firstName", "Phone": None}},
            self.HEADERS,
        )
        assert mapping == ColumnMapping({"Email": "email", "First": "firstName"})
        assert mapping.to_json() == {
            "memberFields": {"Email": "email", "First": "firstName"},
            "planFields": {},
        }

    def test_every_problem_is_named_at_once(self) -> None:
        with pytest.raises(InvalidInput) as raised:
            validate_mapping(
                {
                    "memberFields": {
                        "Nope": "email",
                        "First": "shoeSize",
                        "Phone": "firstName",
                        "Plan": "firstName",
                    },
                    "extra": {},
                },
                self.HEADERS,
            )
        message = raised.value.message
        assert raised.value.field == "columnMapping"
        assert "no column 'Nope'" in message
        assert "unknown field 'shoeSize' for column 'First'" in message
        assert "'firstName' is mapped from both 'Phone' and 'Plan'" in message
        assert "unknown section 'extra'" in message
        assert "members need an email column" in message

    def test_members_need_email(self) -> None:
        with pytest.raises(InvalidInput, match="members need an email column"):
            validate_mapping({"memberFields": {"Phone": "phone"}}, self.HEADERS)

    def test_leads_alone_may_go_by_phone(self) -> None:
        mapping = validate_mapping(
            {"memberFields": {"Phone": "phone"}}, self.HEADERS, members=False, leads=True
        )
        assert mapping.member_fields == {"Phone": "phone"}
        with pytest.raises(InvalidInput, match="leads need an email or a phone"):
            validate_mapping({"memberFields": {}}, self.HEADERS, members=False, leads=True)

    def test_plans_need_name_and_price(self) -> None:
        with pytest.raises(InvalidInput, match="plans need planFields"):
            validate_mapping(
                {"memberFields": {"Email": "email"}, "planFields": {"Plan": "name"}},
                self.HEADERS,
                plans=True,
            )
        mapping = validate_mapping(
            {"memberFields": {"Email": "email"}, "planFields": {"Plan": "name", "Price": "price"}},
            self.HEADERS,
            plans=True,
        )
        assert mapping.plan_fields == {"Plan": "name", "Price": "price"}

    @pytest.mark.parametrize("raw", [None, [], "email", {"memberFields": ["Email"]}])
    def test_wrong_shapes(self, raw: object) -> None:
        with pytest.raises(InvalidInput):
            validate_mapping(raw, self.HEADERS)

    @given(
        st.dictionaries(
            st.sampled_from(["Email", "First", "Phone", "Plan", "Price", "Ghost"]),
            st.sampled_from([*MEMBER_FIELDS, "bogus", None]),
        )
    )
    def test_property_valid_or_invalid_input_never_anything_else(
        self, member_fields: dict[str, str | None]
    ) -> None:
        try:
            mapping = validate_mapping({"memberFields": member_fields}, self.HEADERS)
        except InvalidInput:
            return
        fields = list(mapping.member_fields.values())
        assert "email" in fields
        assert len(fields) == len(set(fields))
        assert set(mapping.member_fields) <= set(self.HEADERS)


class TestRowMapper:
    HEADERS = ("Email", "Name", "Phone", "Born", "Joined", "Notes")

    def mapper(self, orders: dict[str, DateOrder] | None = None) -> RowMapper:
        fields = {
            "Email": "email",
            "Name": "fullName",
            "Phone": "phone",
            "Born": "birthDate",
            "Joined": "membershipStart",
        }
        return RowMapper(self.HEADERS, fields, orders=orders, today=TODAY)

    def test_values_are_trimmed_split_and_fixed(self) -> None:
        cells = [" Dana@Example.com ", " דנה  לוי ", "521234567", "25/03/90", "45000", "x"]
        record = self.mapper().map(2, cells)
        assert record.ok
        assert record.row == 2
        assert record.cells is cells
        assert record.values == {
            "email": "Dana@Example.com",  # syntax and case are the engine's value rules
            "firstName": "דנה",
            "lastName": "לוי",
            "phone": "0521234567",
            "birthDate": "1990-03-25",
            "membershipStart": "2023-03-15",
        }
        assert record.fixes == (
            ("Phone", FixKind.PHONE_LEADING_ZERO),
            ("Born", FixKind.DATE_TWO_DIGIT_YEAR),
            ("Joined", FixKind.DATE_EXCEL_SERIAL),
        )

    def test_empty_cells_are_left_out(self) -> None:
        record = self.mapper().map(3, ["a@b.co", "", " ", "", "", ""])
        assert record.values == {"email": "a@b.co"}

    def test_unusable_values_fail_the_row_with_column_and_reason(self) -> None:
        record = self.mapper().map(4, ["a@b.co", "Dana", "5.21E+08", "31/02/1990", "soon", ""])
        assert not record.ok
        assert [(p.column, p.field) for p in record.problems] == [
            ("Phone", "phone"),
            ("Born", "birthDate"),
            ("Joined", "membershipStart"),
        ]
        assert "scientific notation" in str(record.problems[0])
        assert str(record.problems[1]).startswith("Born: ")
        assert "phone" not in record.values
        assert "birthDate" not in record.values

    def test_the_column_order_is_used(self) -> None:
        mapper = self.mapper({"Born": DateOrder.MONTH_FIRST})
        record = mapper.map(2, ["a@b.co", "", "", "03/04/1990", "03/04/2024", ""])
        assert record.values["birthDate"] == "1990-03-04"
        assert record.values["membershipStart"] == "2024-04-03"  # default: day first

    def test_own_first_and_last_name_columns_win_over_the_full_name(self) -> None:
        headers = ("Full", "First")
        mapper = RowMapper(headers, {"Full": "fullName", "First": "firstName"}, today=TODAY)
        assert mapper.map(2, ["Dana Levi", "Danielle"]).values == {
            "firstName": "Danielle",
            "lastName": "Levi",
        }
        assert mapper.map(3, ["Dana Levi", ""]).values == {"firstName": "Dana", "lastName": "Levi"}

    def test_plan_records_use_the_plan_vocabulary(self) -> None:
        mapper = RowMapper(
            ("Plan", "Price"),
            {"Plan": "name", "Price": "price"},
            vocabulary=PLAN_FIELDS,
            today=TODAY,
        )
        assert mapper.map(2, ["חודשי", " 250 "]).values == {"name": "חודשי", "price": "250"}

    def test_tally_counts_fixes_per_column_and_kind(self) -> None:
        tally = FixTally()
        mapper = self.mapper()
        for row, phone in enumerate(["521234567", "541234567", "0521234567"], start=2):
            tally.add(mapper.map(row, ["a@b.co", "", phone, "", "", ""]))
        assert tally.total == 2
        assert tally.warnings() == ["Phone: restored the leading zero Excel dropped (2 values)."]


@given(st.text(max_size=40))
def test_property_split_full_name_loses_no_word(full: str) -> None:
    first, last = split_full_name(full)
    assert " " not in first
    assert (first + " " + last).split() == full.split() or not full.strip()


class TestDateOrders:
    def test_each_date_column_is_decided_from_its_own_values(self) -> None:
        headers = ("Email", "Born", "Joined", "Ends")
        rows = [
            ["a@b.co", "25/03/1990", "03/25/2024", "01/02/2025"],
            ["c@d.co", "03/04/1985", "04/01/2024", "03/04/2025"],
        ]
        mapping = ColumnMapping(
            {
                "Email": "email",
                "Born": "birthDate",
                "Joined": "membershipStart",
                "Ends": "membershipEnd",
            }
        )
        orders, warnings = date_orders(profile_of(headers, rows), mapping)
        assert orders == {
            "Born": DateOrder.DAY_FIRST,
            "Joined": DateOrder.MONTH_FIRST,
            "Ends": DateOrder.DAY_FIRST,
        }
        assert warnings == ["Ends: every date could be day or month first; read as dd/mm/yyyy."]

    def test_a_conflicting_column_is_reported(self) -> None:
        headers = ("Born",)
        rows = [["25/03/1990"], ["26/03/1990"], ["03/25/1990"]]
        orders, warnings = date_orders(
            profile_of(headers, rows), ColumnMapping({"Born": "birthDate"})
        )
        assert orders == {"Born": DateOrder.DAY_FIRST}
        assert warnings == [
            "Born: 2 dates are day first and 1 month first; read as dd/mm/yyyy, the others fail."
        ]

    def test_a_deciding_value_after_the_sample_still_decides(self) -> None:
        profile = ColumnProfile(("Born",), sample_rows=10)
        for _ in range(50):
            profile.observe(["03/04/1990"])
        profile.observe(["04/13/1990"])
        orders, _ = date_orders(profile, ColumnMapping({"Born": "birthDate"}))
        assert orders == {"Born": DateOrder.MONTH_FIRST}


class TestRememberedMappings:
    def test_same_headers_same_fingerprint_whatever_the_order_or_spelling(self) -> None:
        assert headers_fingerprint(["Email", "Phone"]) == headers_fingerprint([" phone", "EMAIL"])
        assert headers_fingerprint(["Email", "Phone"]) != headers_fingerprint(["Email", "Mobile"])

    def test_a_remembered_mapping_that_fits_is_recalled(self) -> None:
        remembered = {"memberFields": {"col1": "email", "col2": "notes"}}
        assert recall_mapping(remembered, ["col1", "col2"]) == ColumnMapping(
            {"col1": "email", "col2": "notes"}
        )

    @pytest.mark.parametrize(
        "remembered",
        [
            {"memberFields": {"gone": "email"}},
            {"memberFields": {"col1": "retiredField"}},
            "garbage",
            None,
        ],
    )
    def test_a_stale_memory_is_ignored(self, remembered: object) -> None:
        assert recall_mapping(remembered, ["col1", "col2"]) is None


HEADER_WORDS = st.sampled_from(
    ["Email", "e-mail", "טלפון", "Phone 2", "name", "שם פרטי", "DOB", "x", "", "Plan", "מחיר"]
)


@given(st.lists(HEADER_WORDS, min_size=1, max_size=8, unique=True))
def test_property_any_suggestion_is_a_valid_mapping(headers: list[str]) -> None:
    mapping = suggest_mapping(headers, today=TODAY)
    assert validate_mapping(mapping.to_json(), headers, members=False) == mapping


@given(st.lists(st.text(max_size=15), min_size=6, max_size=6))
def test_property_mapping_any_row_never_raises(cells: list[str]) -> None:
    mapper = TestRowMapper().mapper()
    record = mapper.map(2, cells)
    assert all(value and value == value.strip() for value in record.values.values())
    assert {p.field for p in record.problems} <= {"phone", "birthDate", "membershipStart"}
    assert not {p.field for p in record.problems} & set(record.values)
