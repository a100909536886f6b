"""CSV encoding: RFC 4180 round trips, Excel's BOM, and formula-injection defence."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitdata_core.rules.csv_format import BOM, aencode_csv, encode_csv, neutralize

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
BOM_BYTES = BOM.encode()


def decode(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM_BYTES)
    return list(csv.reader(io.StringIO(data[len(BOM_BYTES) :].decode(), newline="")))


def strip_prefix(cell: str, original: str) -> str:
    """The cell with the neutralising quote removed, when neutralize added one."""
    return cell[1:] if cell != original and cell == "'" + original else cell


def is_safe_shape(cell: str) -> bool:
    """A number or a phone-number shape: the only things allowed to start with a trigger."""
    return neutralize(cell) == cell


# Text without lone surrogates (those cannot be UTF-8; see test_lone_surrogate_is_replaced).
cell_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30)
hebrew = st.text(alphabet=st.characters(min_codepoint=0x05D0, max_codepoint=0x05EA), min_size=1)
formula_like = st.builds(lambda trigger, rest: trigger + rest, st.sampled_from(TRIGGERS), cell_text)
cells = st.one_of(cell_text, hebrew, formula_like)


class TestNeutralize:
    @pytest.mark.parametrize(
        "value",
        [
            "=1+1",
            '=HYPERLINK("http://evil.example","click")',
            "+SUM(A1:A9)",
            "-2+3",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
            "\n=1",
            "=cmd|' /C calc'!A0",
            "-",
            "+",
            "\uff1d1+1",  # full-width equals
            "+\u0663\u0664",  # Arabic-Indic digits are not a number to a spreadsheet
        ],
    )
    def test_formula_triggers_get_a_leading_quote(self, value: str) -> None:
        assert neutralize(value) == "'" + value

    @pytest.mark.parametrize(
        "value",
        [
            "+972-54-123-4567",
            "+972 54 123 4567",
            "+1 (555) 123-4567",
            "-12.5",
            "+12",
            "-0.5e-3",
            "-.5",
            "054-1234567",
            "plain text",
            "דנה כהן",
            "",
            "a=b",
            "'already quoted",
        ],
    )
    def test_numbers_phones_and_plain_text_are_untouched(self, value: str) -> None:
        assert neutralize(value) == value

    @given(cells)
    def test_result_never_starts_with_a_trigger_unless_number_or_phone(self, value: str) -> None:
        result = neutralize(value)
        if result[:1] in TRIGGERS:
            assert result == value
            assert not any(c.isalpha() for c in value)
            assert set(value) <= set("0123456789+-.() eE")
        else:
            assert result in (value, "'" + value)


class Colour(StrEnum):
    RED = "red"
    FORMULA = "=evil()"


class TestEncodeCsv:
    def test_bom_header_rows_and_crlf(self) -> None:
        data = b"".join(encode_csv(["name", "amount"], [["דנה", 5], ["Ron", None]]))
        assert data == BOM_BYTES + "name,amount\r\nדנה,5\r\nRon,\r\n".encode()

    def test_without_bom(self) -> None:
        data = b"".join(encode_csv(["a"], [["x"]], bom=False))
        assert data == b"a\r\nx\r\n"

    def test_quotes_only_when_needed_and_doubles_embedded_quotes(self) -> None:
        data = b"".join(encode_csv(["c"], [['say "hi"'], ["a,b"], ["two\nlines"], ["plain"]]))
        assert data.decode().removeprefix(BOM) == (
            'c\r\n"say ""hi"""\r\n"a,b"\r\n"two\nlines"\r\nplain\r\n'
        )

    def test_values_are_formatted_for_spreadsheets(self) -> None:
        row: Sequence[object] = [
            None,
            date(2024, 3, 1),
            datetime(2024, 3, 1, 12, 30, tzinfo=UTC),
            time(7, 5),
            Decimal("1E+3"),
            Decimal("12.50"),
            Decimal("-0.000001"),
            True,
            False,
            3,
            1.5,
            Colour.RED,
            Colour.FORMULA,
            "=1+1",
            "+972-54-123-4567",
        ]
        [header, decoded] = decode(b"".join(encode_csv(["h"] * len(row), [row])))
        assert header == ["h"] * len(row)
        assert decoded == [
            "",
            "2024-03-01",
            "2024-03-01T12:30:00+00:00",
            "07:05:00",
            "1000",
            "12.50",
            "-0.000001",
            "true",
            "false",
            "3",
            "1.5",
            "red",
            "'=evil()",
            "'=1+1",
            "+972-54-123-4567",
        ]

    def test_header_is_neutralised_too(self) -> None:
        [header] = decode(b"".join(encode_csv(["=evil()", "ok"], [])))
        assert header == ["'=evil()", "ok"]

    def test_lone_surrogate_is_replaced_not_fatal(self) -> None:
        [_, [cell]] = decode(b"".join(encode_csv(["c"], [["a\ud800b"]])))
        assert cell == "a?b"

    def test_streams_in_chunks_of_about_chunk_size(self) -> None:
        rows = ([f"row {i}", "x" * 50] for i in range(10_000))
        chunks = list(encode_csv(["n", "pad"], rows, chunk_size=4096))
        assert len(chunks) > 100
        assert all(4096 <= len(chunk) < 4096 * 6 for chunk in chunks[:-1])
        decoded = decode(b"".join(chunks))
        assert len(decoded) == 10_001
        assert decoded[-1] == ["row 9999", "x" * 50]

    def test_no_rows_still_yields_the_header(self) -> None:
        assert b"".join(encode_csv(["a", "b"], iter([]))) == BOM_BYTES + b"a,b\r\n"

    @given(
        header=st.lists(cells, min_size=1, max_size=5),
        rows=st.lists(st.lists(st.one_of(cells, st.none(), st.integers()), max_size=5)),
        chunk_size=st.integers(min_value=1, max_value=200),
    )
    def test_round_trip_recovers_every_value(
        self, header: list[str], rows: list[list[object]], chunk_size: int
    ) -> None:
        chunks = list(encode_csv(header, rows, chunk_size=chunk_size))
        data = b"".join(chunks)
        assert data.startswith(BOM_BYTES)
        assert not any(chunk.startswith(BOM_BYTES) for chunk in chunks[1:])
        expected_rows = [[("" if v is None else str(v)) for v in row] for row in [header, *rows]]
        # The BOM exactly once, unless the data itself holds one.
        boms_in_data = sum(cell.count(BOM) for row in expected_rows for cell in row)
        assert data.decode().count(BOM) == 1 + boms_in_data
        decoded = decode(data)
        assert len(decoded) == len(expected_rows)
        for got_row, want_row in zip(decoded, expected_rows, strict=True):
            assert [strip_prefix(g, w) for g, w in zip(got_row, want_row, strict=True)] == (
                want_row
            )
            for cell in got_row:
                assert cell[:1] not in TRIGGERS or is_safe_shape(cell)

    @given(st.lists(hebrew, min_size=1, max_size=10))
    def test_hebrew_is_intact(self, names: list[str]) -> None:
        decoded = decode(b"".join(encode_csv(["שם"], [[n] for n in names])))
        assert decoded == [["שם"], *[[n] for n in names]]


async def arows(rows: list[list[object]]) -> AsyncIterator[list[object]]:
    for row in rows:
        yield row


class TestAencodeCsv:
    async def test_matches_the_sync_encoder(self) -> None:
        rows: list[list[object]] = [[f"=r{i}", i, None, "כהן"] for i in range(2000)]
        chunks = [c async for c in aencode_csv(["a", "b", "c", "d"], arows(rows), chunk_size=1000)]
        assert len(chunks) > 10
        assert b"".join(chunks) == b"".join(encode_csv(["a", "b", "c", "d"], rows))

    async def test_no_rows(self) -> None:
        chunks = [c async for c in aencode_csv(["a"], arows([]), bom=False)]
        assert chunks == [b"a\r\n"]
