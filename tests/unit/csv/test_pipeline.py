"""From a file to the upload preview and to mapped records: the whole CSV path, no database."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date
from pathlib import Path

import pytest

from fitdata_adapters.csv_import import StoredImportFiles, analyse, import_records, read_records
from fitdata_adapters.storage.memory import MemoryStorage
from fitdata_core.errors import InvalidInput
from fitdata_core.rules.csv_mapping import ColumnMapping, validate_mapping
from fitdata_core.rules.csv_values import DateOrder

TODAY = date(2026, 12, 2)

# What an Israeli gym's Excel saves as "CSV" on a Hebrew Windows: Windows-1255, semicolons,
# phones that lost their zero, day-first dates, an Excel day number, a trailing empty column.
GYM_FILE = (
    'שם מלא;דוא"ל;נייד;תאריך לידה;תחילת מנוי;סיום מנוי;מנוי;\r\n'
    "דנה לוי;dana@example.com;521234567;25/03/1990;01/02/2024;45000;חודשי;\r\n"
    "יוסי כהן;yossi@example.co.il;972541112233;3/4/85;02/02/2024;;שנתי;\r\n"
    'מיכל אברהם;michal@example.com;5.41E+08;31/02/1999;03/02/2024;01/03/2025;"כרטיסייה; 10";\r\n'
    ";;;;;;;\r\n"
    "\r\n"
)


def write(tmp_path: Path, text: str, encoding: str = "cp1255", name: str = "gym.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_the_upload_preview_of_a_hebrew_gym_file(tmp_path: Path) -> None:
    analysis = analyse(write(tmp_path, GYM_FILE), filename="gym.csv", today=TODAY)
    answer = analysis.to_json()
    assert answer["headers"] == [
        "שם מלא",
        'דוא"ל',
        "נייד",
        "תאריך לידה",
        "תחילת מנוי",
        "סיום מנוי",
        "מנוי",
    ]
    assert answer["suggestedMapping"] == {
        "memberFields": {
            "שם מלא": "fullName",
            'דוא"ל': "email",
            "נייד": "phone",
            "תאריך לידה": "birthDate",
            "תחילת מנוי": "membershipStart",
            "סיום מנוי": "membershipEnd",
            "מנוי": "planName",
        },
        "planFields": {},
    }
    assert answer["totalRows"] == 3
    assert answer["detected"] == {
        "encoding": "windows-1255",
        "delimiter": ";",
        "dateOrder": "dd/mm",
        "sheet": None,
    }
    assert answer["previewRows"][0] == {
        "firstName": "דנה",
        "lastName": "לוי",
        "email": "dana@example.com",
        "phone": "0521234567",
        "birthDate": "1990-03-25",
        "membershipStart": "2024-02-01",
        "membershipEnd": "2023-03-15",
        "planName": "חודשי",
    }
    assert answer["previewRows"][1]["phone"] == "+972541112233"
    assert answer["previewRows"][1]["birthDate"] == "1985-04-03"
    # The membership columns only hold dates like 01/02/2024 (and a day number): reported.
    # Row 4's values no fix can save are left out of its preview row, and said so.
    assert answer["warnings"] == [
        "תחילת מנוי: every date could be day or month first; read as dd/mm/yyyy.",
        "סיום מנוי: every date could be day or month first; read as dd/mm/yyyy.",
        "Row 4: נייד: Excel turned this phone into scientific notation (5.41E+08) and lost its"
        " last digits; format the column as text and export again; the row will fail unless"
        " the file is fixed.",
        "Row 4: תאריך לידה: '31/02/1999' is not a calendar date; the row will fail unless the"
        " file is fixed.",
    ]
    assert "phone" not in answer["previewRows"][2]
    assert "birthDate" not in answer["previewRows"][2]


def test_the_job_config_keeps_every_date_columns_order(tmp_path: Path) -> None:
    text = (
        "Email,Born,Joined,Note\r\n"
        "a@b.co,25/03/1990,03/04/2024,x\r\n"
        "c@d.co,1/2/1991,04/13/2024,y\r\n"
    )
    analysis = analyse(write(tmp_path, text, "utf-8"), today=TODAY)
    config = analysis.to_config()
    assert config["dateOrders"] == {"Born": "dd/mm", "Joined": "mm/dd"}
    assert config["ambiguousDateColumns"] == []
    assert config["totalRows"] == 2
    # A mapping confirmed later, from the stored config alone, reads each column its way.
    orders = config["dateOrders"]
    assert isinstance(orders, dict)
    stored = {header: DateOrder(order) for header, order in orders.items()}
    mapping = ColumnMapping({"Email": "email", "Joined": "birthDate", "Born": "membershipStart"})
    records = list(
        read_records(write(tmp_path, text, "utf-8"), mapping, orders=stored, today=TODAY)
    )
    assert records[1].values["birthDate"] == "2024-04-13"
    assert records[1].values["membershipStart"] == "1991-02-01"


def test_records_carry_fixes_and_problems(tmp_path: Path) -> None:
    path = write(tmp_path, GYM_FILE)
    analysis = analyse(path, today=TODAY)
    mapping = validate_mapping(analysis.suggested.to_json(), analysis.headers)
    stream = read_records(path, mapping, orders=analysis.orders_for(mapping), today=TODAY)
    records = list(stream)
    assert [r.row for r in records] == [2, 3, 4]
    assert [r.ok for r in records] == [True, True, False]
    assert [str(p) for p in records[2].problems] == [
        "נייד: Excel turned this phone into scientific notation (5.41E+08) and lost its last"
        " digits; format the column as text and export again",
        "תאריך לידה: '31/02/1999' is not a calendar date",
    ]
    assert records[2].values["planName"] == "כרטיסייה; 10"
    assert records[2].cells[0] == "מיכל אברהם"  # the row as read, for the rejects file
    assert stream.tally.total == 4
    assert stream.warnings == [  # in the order they were first met
        "נייד: restored the leading zero Excel dropped (1 value).",
        "סיום מנוי: converted an Excel day number to a date (1 value).",
        "נייד: restored the + before the country code (1 value).",
        "תאריך לידה: completed a two-digit year (1 value).",
    ]


def test_a_month_first_column_is_read_month_first(tmp_path: Path) -> None:
    text = "Email,DOB\r\na@b.co,03/25/1990\r\nc@d.co,04/05/1991\r\n"
    analysis = analyse(write(tmp_path, text, "utf-8"), today=TODAY)
    assert analysis.detected.date_order == "mm/dd"
    assert [row["birthDate"] for row in analysis.preview] == ["1990-03-25", "1991-04-05"]
    assert analysis.warnings == ()


def test_a_remembered_mapping_is_suggested_while_it_fits(tmp_path: Path) -> None:
    path = write(tmp_path, "Mail,Remarks\r\na@b.co,VIP\r\n", "utf-8")
    remembered = {"memberFields": {"Mail": "email", "Remarks": "status"}}
    analysis = analyse(path, today=TODAY, remembered=remembered)
    assert analysis.suggested == ColumnMapping({"Mail": "email", "Remarks": "status"})
    assert analysis.preview == ({"email": "a@b.co", "status": "VIP"},)
    stale = {"memberFields": {"Email": "email"}}
    fresh = analyse(path, today=TODAY, remembered=stale)
    assert fresh.suggested == ColumnMapping({"Mail": "email", "Remarks": "notes"})


def test_a_header_only_file_has_nothing_to_import(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no data rows"):
        analyse(write(tmp_path, "Email,Name\r\n\r\n", "utf-8"), today=TODAY)


def test_plan_records(tmp_path: Path) -> None:
    text = "Email,Plan,Price\r\na@b.co,Monthly,250\r\nc@d.co,Yearly,2400\r\n"
    path = write(tmp_path, text, "utf-8")
    analysis = analyse(path, today=TODAY)
    mapping = validate_mapping(analysis.suggested.to_json(), analysis.headers, plans=True)
    plans = read_records(path, mapping, orders={}, today=TODAY, plans=True)
    assert [r.values for r in plans] == [
        {"name": "Monthly", "price": "250"},
        {"name": "Yearly", "price": "2400"},
    ]


def test_a_resumed_read_skips_rows_without_mapping_them(tmp_path: Path) -> None:
    path = write(tmp_path, GYM_FILE)
    analysis = analyse(path, today=TODAY)
    mapping = validate_mapping(analysis.suggested.to_json(), analysis.headers)
    orders = analysis.orders_for(mapping)
    whole = list(read_records(path, mapping, orders=orders, today=TODAY))
    stream = read_records(path, mapping, orders=orders, today=TODAY, skip_rows=2)
    resumed = list(stream)
    assert resumed == whole[2:]  # the same record, numbered by its spreadsheet row
    assert [r.row for r in resumed] == [4]
    # Rows 2 and 3 were read past, not mapped: their four fixes are not counted.
    assert stream.tally.total == 0
    assert list(read_records(path, mapping, orders=orders, today=TODAY, skip_rows=9)) == []


def test_a_mapping_naming_a_column_the_file_lacks(tmp_path: Path) -> None:
    path = write(tmp_path, "Email\r\na@b.co\r\n", "utf-8")
    stream = read_records(path, ColumnMapping({"Mail": "email"}), orders={}, today=TODAY)
    with pytest.raises(InvalidInput, match="no column 'Mail'"):
        list(stream)


def _member_file(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write("Email,First name,Last name,Phone,Birthday\r\n")
        for i in range(rows):
            out.write(f"member{i}@example.com,דנה,לוי,52{i % 10_000_000:07d},25/03/1990\r\n")
    return path


def _peak_while_streaming(path: Path) -> tuple[int, int]:
    analysis, stream = import_records(str(path), today=TODAY)
    gc.collect()
    tracemalloc.start()
    try:
        count = sum(1 for record in stream if record.ok)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == analysis.total_rows
    return count, peak


def test_memory_is_flat_in_the_row_count(tmp_path: Path) -> None:
    small_rows, small_peak = _peak_while_streaming(_member_file(tmp_path / "s.csv", 1_000))
    big = _member_file(tmp_path / "b.csv", 30_000)
    big_rows, big_peak = _peak_while_streaming(big)
    assert (small_rows, big_rows) == (1_000, 30_000)
    # Thirty times the rows, the same peak give or take buffers: no row is kept.
    assert big_peak < small_peak + 256 * 1024
    assert big_peak < 1024 * 1024 < big.stat().st_size


def test_a_remembered_date_order_decides_a_column_its_values_leave_open(tmp_path: Path) -> None:
    # The rejects file of a month-first import: only 03/04/1985 is left, either order fits.
    text = "Email,Born,error\r\nc@d.co,03/04/1985,bad\r\n"
    path = write(tmp_path, text, "utf-8")
    remembered = {"memberFields": {"Email": "email", "Born": "birthDate"}, "planFields": {}}
    analysis = analyse(
        path, today=TODAY, remembered=remembered, remembered_orders={"Born": "mm/dd"}
    )
    assert analysis.preview[0]["birthDate"] == "1985-03-04"
    assert analysis.detected.date_order == "mm/dd"
    assert analysis.to_config()["dateOrders"] == {"Born": "mm/dd"}
    assert analysis.warnings == (
        "Born: every date could be day or month first; read as mm/dd/yyyy, as in the import"
        " confirmed before for a file with these headers.",
    )
    # Without the remembered mapping the order is not borrowed: day first, as for any file.
    fresh = analyse(path, today=TODAY, remembered_orders={"Born": "mm/dd"})
    assert fresh.preview[0].get("birthDate") == "1985-04-03"
    # Values that prove an order win over the remembered one.
    proven = write(tmp_path, "Email,Born,error\r\nc@d.co,25/04/1985,bad\r\n", "utf-8", "p.csv")
    again = analyse(proven, today=TODAY, remembered=remembered, remembered_orders={"Born": "mm/dd"})
    assert again.preview[0]["birthDate"] == "1985-04-25"


class _CountedReads(MemoryStorage):
    """Memory storage counting the reads of each key."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: dict[str, int] = {}

    async def read(self, key: str) -> AsyncIterator[bytes]:
        self.reads[key] = self.reads.get(key, 0) + 1
        async for chunk in super().read(key):
            yield chunk


async def test_an_upload_with_a_remembered_mapping_is_read_once() -> None:
    # The remembered mapping is looked up from the headers of the one read, and the answer
    # follows it (and its proven date order), as a second read under it used to.
    storage = _CountedReads()
    text = b"Mail,Born,Note\r\nc@d.co,03/04/1985,x\r\n"
    await storage.put_stream("f.csv", _chunks(text), content_type="text/csv")
    asked: list[tuple[str, ...]] = []
    remembered = {"memberFields": {"Mail": "email", "Born": "birthDate"}, "planFields": {}}

    async def recall(headers: Sequence[str]) -> tuple[object, Mapping[str, str]]:
        asked.append(tuple(headers))
        return remembered, {"Born": "mm/dd"}

    files = StoredImportFiles(storage)
    found = await files.analyse("f.csv", filename="f.csv", sheet=None, today=TODAY, recall=recall)
    assert storage.reads == {"f.csv": 1}
    assert asked == [("Mail", "Born", "Note")]
    assert found.answer["suggestedMapping"] == remembered
    assert found.answer["previewRows"] == [{"email": "c@d.co", "birthDate": "1985-03-04"}]
    assert found.date_orders == {"Born": DateOrder.MONTH_FIRST}
    # Without one, the suggestion is the file's own (and the order day first).
    fresh = await files.analyse("f.csv", filename="f.csv", sheet=None, today=TODAY)
    assert fresh.answer["suggestedMapping"] != remembered
    assert fresh.date_orders == {"Born": DateOrder.DAY_FIRST}


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data
