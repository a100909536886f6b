"""Reading uploaded files: encodings, delimiters, quoting, blank lines, headers, not-text files.

Every file is built by the test, byte for byte, the way the program it imitates writes it.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fitdata_adapters.csv_import import Table, open_table
from fitdata_adapters.csv_import.sniff import detect_encoding, looks_hebrew_1255
from fitdata_core.errors import InvalidInput

HEBREW_ROWS = [
    ["שם פרטי", "שם משפחה", 'דוא"ל', "טלפון", "עיר"],
    ["דנה", "לוי", "dana@example.com", "0521234567", "תל אביב"],
    ["יוסי", "כהן", "yossi@example.co.il", "0541112233", "ירושלים"],
    ["מיכל", "אברהם-שטרן", "michal@example.com", "", "באר שבע"],
]


def build(rows: Sequence[Sequence[str]], *, delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return text.getvalue().encode(encoding)


def read(table: Table) -> list[list[str]]:
    with table:
        return [cells for _, cells in table.rows()]


class TestEncodings:
    @pytest.mark.parametrize(
        ("encoding", "reported"),
        [
            ("utf-8", "utf-8"),
            ("utf-8-sig", "utf-8-sig"),
            ("utf-16", "utf-16-le"),  # Python writes the BOM little-endian here, as Excel does
            ("utf-16-be", "utf-16-be"),
            ("utf-16-le", "utf-16-le"),
            ("cp1255", "windows-1255"),
        ],
    )
    def test_hebrew_file_reads_right_in_every_encoding(self, encoding: str, reported: str) -> None:
        data = build(HEBREW_ROWS, encoding=encoding)
        if encoding == "utf-16-be":
            data = b"\xfe\xff" + data  # with its BOM, as Excel's "Unicode text" has one
        table = open_table(data, filename="members.csv")
        assert table.detected.encoding == reported
        assert table.headers == tuple(HEBREW_ROWS[0])
        assert read(table) == HEBREW_ROWS[1:]

    def test_windows_1252_western_names_are_not_taken_for_hebrew(self) -> None:
        rows = [["Name", "City"], ["Jürgen Müller", "Zürich"], ["Amélie Dufrêne", "Besançon"]]
        table = open_table(build(rows, encoding="cp1252"))
        assert table.detected.encoding == "windows-1252"
        assert read(table) == rows[1:]

    def test_hebrew_after_a_long_ascii_start_is_still_found(self) -> None:
        # 100,000 rows of ASCII first: the sniffing must look beyond its first 64 KB.
        rows = [["email", "name"]]
        rows += [[f"user{i}@example.com", "Plain"] for i in range(5000)]
        rows += [["late@example.com", "שירה"]]
        table = open_table(build(rows, encoding="cp1255"))
        assert table.detected.encoding == "windows-1255"
        assert read(table)[-1] == ["late@example.com", "שירה"]

    def test_a_bad_byte_deep_in_a_utf8_file_names_the_row(self) -> None:
        head = build([["email", "name"], ["a@b.co", "דנה"]])
        tail = b"".join(b"x%d@b.co,x\r\n" % i for i in range(20000)) + b"bad@b.co,\xe0\xe1\r\n"
        table = open_table(head + tail)
        assert table.detected.encoding == "utf-8"
        with pytest.raises(InvalidInput, match=r"Row \d+ is not valid utf-8"):
            read(table)

    @pytest.mark.parametrize(
        ("sample", "hebrew"),
        [
            ("שלום עולם, דנה לוי".encode("cp1255"), True),
            ('דוא"ל;טלפון'.encode("cp1255"), True),
            ("café, Müller, naïve".encode("cp1252"), False),
            ("ÀÉÎÕÜ ÅÆÇ".encode("cp1252"), False),  # capitals: never Hebrew letters
            ("Привет мир".encode("cp1251"), False),  # Cyrillic shares 0xE0-0xFF
        ],
    )
    def test_hebrew_is_told_from_its_neighbours(self, sample: bytes, hebrew: bool) -> None:
        assert looks_hebrew_1255(sample) is hebrew

    def test_other_code_pages_fall_to_charset_normalizer(self) -> None:
        text = "Имя,Город\r\nИван Петров,Москва\r\nОльга Смирнова,Санкт-Петербург\r\n" * 5
        encoding = detect_encoding(text.encode("cp1251"), complete=True)
        assert text.encode("cp1251").decode(encoding.codec) == text


HEBREW_WORDS = st.text(
    alphabet=st.characters(min_codepoint=0x05D0, max_codepoint=0x05EA), min_size=2, max_size=9
)
LATIN_WORDS = st.builds(
    lambda head, accent, tail: head + accent + tail,
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=6
    ),
    st.sampled_from(list("àáâäçèéêëìíîïñòóôöùúûüÿßåæøÀÉÖÜÇ")),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", max_size=6),
)
ASCII_CELLS = st.sampled_from(
    ["dana@example.com", "0521234567", "25/03/1990", "Tel Aviv", "", "VIP"]
)


@st.composite
def single_byte_files(draw: st.DrawFn, words: st.SearchStrategy[str]) -> str:
    rows = draw(
        st.lists(
            st.lists(st.one_of(words, ASCII_CELLS), min_size=3, max_size=5),
            min_size=2,
            max_size=20,
        ).filter(
            lambda rows: sum(1 for row in rows for cell in row if cell and not cell.isascii()) >= 2
        )
    )
    return "\r\n".join(",".join(row) for row in rows)


class TestSingleByteDecision:
    @given(single_byte_files(HEBREW_WORDS))
    def test_property_hebrew_in_1255_is_always_1255(self, text: str) -> None:
        assert detect_encoding(text.encode("cp1255"), complete=True).name == "windows-1255"

    @given(single_byte_files(LATIN_WORDS))
    def test_property_western_in_1252_is_always_1252(self, text: str) -> None:
        assert detect_encoding(text.encode("cp1252"), complete=True).name == "windows-1252"

    @given(single_byte_files(st.one_of(HEBREW_WORDS, LATIN_WORDS)))
    def test_property_utf8_is_never_taken_for_a_code_page(self, text: str) -> None:
        assert detect_encoding(text.encode("utf-8"), complete=True).name == "utf-8"


class TestDelimiters:
    @pytest.mark.parametrize(
        ("delimiter", "name"), [(",", ","), (";", ";"), ("\t", "tab"), ("|", "|")]
    )
    def test_each_delimiter_is_detected(self, delimiter: str, name: str) -> None:
        rows = [
            ["Email", "Name", "Address"],
            ["a@b.co", "Dana", "Herzl 1, Tel Aviv"],  # a comma inside a value
            ["c@d.co", "Yossi", "Ben Yehuda 5; 2nd floor"],
        ]
        table = open_table(build(rows, delimiter=delimiter))
        assert table.detected.delimiter == name
        assert read(table) == rows[1:]

    def test_excel_semicolon_csv_with_unquoted_commas(self) -> None:
        data = (
            "Email;Address;City\r\na@b.co;Herzl 1, apt 2;Tel Aviv\r\nc@d.co;Rothschild 5;Haifa\r\n"
        )
        table = open_table(data.encode())
        assert table.detected.delimiter == ";"
        assert read(table)[0] == ["a@b.co", "Herzl 1, apt 2", "Tel Aviv"]

    def test_excels_sep_line_is_obeyed_and_hidden(self) -> None:
        with open_table(b"sep=;\r\nEmail;Address\r\na@b.co;Herzl 1, Tel Aviv\r\n") as table:
            assert table.detected.delimiter == ";"
            assert table.headers == ("Email", "Address")
            assert list(table.rows()) == [(2, ["a@b.co", "Herzl 1, Tel Aviv"])]

    def test_one_column_file(self) -> None:
        table = open_table(b"email\na@b.co\nc@d.co\n")
        assert table.headers == ("email",)
        assert table.detected.delimiter == ","
        assert read(table) == [["a@b.co"], ["c@d.co"]]


class TestRows:
    def test_a_quoted_newline_stays_in_its_cell_and_row_numbers_follow_records(self) -> None:
        data = b'Email,Notes\r\na@b.co,"line one\nline two"\r\nc@d.co,plain\r\n'
        with open_table(data) as table:
            assert list(table.rows()) == [
                (2, ["a@b.co", "line one\nline two"]),
                (3, ["c@d.co", "plain"]),
            ]

    def test_blank_trailing_lines_and_columns_are_dropped(self) -> None:
        data = b"Email,Name,,\r\na@b.co,Dana,,\r\n,,,\r\n\r\nc@d.co,Yossi,,\r\n\r\n\r\n ,  ,,\r\n"
        with open_table(data) as table:
            assert table.headers == ("Email", "Name")
            assert list(table.rows()) == [(2, ["a@b.co", "Dana"]), (5, ["c@d.co", "Yossi"])]
            assert table.warnings == []

    def test_leading_blank_lines_before_the_header(self) -> None:
        with open_table(b"\r\n,,\r\nEmail,Name\r\na@b.co,Dana\r\n") as table:
            assert table.headers == ("Email", "Name")
            assert list(table.rows()) == [(4, ["a@b.co", "Dana"])]

    def test_short_rows_are_padded_and_values_past_the_header_reported(self) -> None:
        data = b"Email,Name,Phone\r\na@b.co\r\nc@d.co,Yossi,052,extra,more\r\ne@f.co,Dana,054,,\r\n"
        with open_table(data) as table:
            rows = [cells for _, cells in table.rows()]
            assert rows == [
                ["a@b.co", "", ""],
                ["c@d.co", "Yossi", "052"],
                ["e@f.co", "Dana", "054"],
            ]
            assert table.warnings == [
                "1 row had values beyond the last named column; those values were ignored."
            ]

    def test_duplicate_and_empty_headers_are_reported(self) -> None:
        with open_table(b"Email,,Phone,Phone\r\na@b.co,x,1,2\r\n") as table:
            assert table.headers == ("Email", "Column 2", "Phone", "Phone (2)")
            assert len(table.warnings) == 2
            assert read(table) == [["a@b.co", "x", "1", "2"]]

    def test_a_quote_left_open_is_refused_with_its_row(self) -> None:
        # The open quote swallows every later line into one cell until the csv module's
        # field limit (128 KiB) stops it: the row is named rather than the file half-read.
        data = b'Email,Notes\r\na@b.co,ok\r\nc@d.co,"never closed\r\n' + b"x@y.co,more\r\n" * 20000
        with pytest.raises(InvalidInput, match=r"Row 3 cannot be read as CSV"):
            read(open_table(data))

    def test_rows_are_read_once(self) -> None:
        table = open_table(b"a,b\r\n1,2\r\n")
        assert read(table) == [["1", "2"]]
        with pytest.raises(RuntimeError):
            table.rows()

    def test_a_path_is_opened_and_closed(self, tmp_path: Path) -> None:
        path = tmp_path / "members.csv"
        path.write_bytes(build(HEBREW_ROWS, encoding="utf-8-sig"))
        table = open_table(path)
        assert read(table) == HEBREW_ROWS[1:]
        assert table._closer is None

    def test_a_file_object_is_taken_over_and_closed(self) -> None:
        stream = io.BytesIO(build(HEBREW_ROWS))
        read(open_table(stream))
        assert stream.closed


def png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256))


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("members.csv", "email\na@b.co\n")
    return buffer.getvalue()


class TestNotText:
    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (png(), "a PNG image"),
            (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
            (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "old-format Excel"),
            (b"\x1f\x8b\x08\x00" + bytes(50), "a gzip archive"),
            (b"email,name\r\na@b.co,\x00\x01\x02\x03binary\r\n", "not text"),
            (bytes(range(256)) * 4, "not text"),
            (b"\xff\xfe" + bytes(40) + png(), "not text"),  # a UTF-16 BOM, then binary
            (b"\x01\x00\x02\x00\x03\x00" * 100, "not text"),  # NULs like UTF-16, controls
        ],
    )
    def test_binary_renamed_csv_is_refused(self, data: bytes, message: str) -> None:
        with pytest.raises(InvalidInput, match=message) as raised:
            open_table(data, filename="members.csv")
        assert raised.value.field == "file"

    def test_a_zip_renamed_csv_is_not_a_workbook(self) -> None:
        with pytest.raises(InvalidInput, match=r"not a real \.xlsx workbook"):
            open_table(plain_zip(), filename="members.csv")

    def test_a_text_file_renamed_xlsx_is_refused(self) -> None:
        with pytest.raises(InvalidInput, match=r"named \.xlsx but is not an Excel workbook"):
            open_table(b"email\na@b.co\n", filename="members.xlsx")

    def test_a_prose_txt_renamed_csv_is_refused(self) -> None:
        letter = (
            "Hi team, here are the notes from yesterday's meeting about the new schedule.\n"
            "We agreed to open at six, and the owner will send the plan by Sunday.\n"
        )
        with pytest.raises(InvalidInput, match="does not look like a table"):
            open_table(letter.encode(), filename="notes.csv")

    @pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b",,,\r\n,,\r\n", b"\xef\xbb\xbf"])
    def test_empty_files_are_refused(self, data: bytes) -> None:
        with pytest.raises(InvalidInput, match=r"empty|no rows"):
            open_table(data)


# Cells that may need quoting (the delimiter itself, quotes, newlines) in ASCII and Hebrew.
_CELL_ALPHABET = st.sampled_from(list("abcXYZ019 @.-\"'\nשלוםדנה"))


@st.composite
def tables(draw: st.DrawFn) -> tuple[str, list[str], list[list[str]]]:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    alphabet = st.one_of(_CELL_ALPHABET, st.just(delimiter))
    width = draw(st.integers(min_value=2, max_value=6))
    headers = draw(
        st.lists(
            st.text(alphabet=st.sampled_from(list("abcdefgh_שםדוא")), min_size=1, max_size=10),
            min_size=width,
            max_size=width,
            unique_by=str.casefold,
        )
    )
    rows = draw(
        st.lists(
            st.lists(
                st.text(alphabet=alphabet, max_size=12), min_size=width, max_size=width
            ).filter(lambda row: "".join(row).strip() != ""),
            min_size=3,
            max_size=15,
        )
    )
    return delimiter, headers, rows


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-be"]))
def test_property_written_tables_read_back_unchanged(
    table: tuple[str, list[str], list[list[str]]], encoding: str
) -> None:
    delimiter, headers, rows = table
    data = build([headers, *rows], delimiter=delimiter, encoding=encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    opened = open_table(data)
    assert opened.headers == tuple(headers)
    assert read(opened) == rows
