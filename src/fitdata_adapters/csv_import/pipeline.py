"""From a file to what an import needs: the upload's preview, and the mapped records.

* :func:`analyse` reads the file once: headers, row count, a :class:`ColumnProfile` (values
  sniffed, date orders gathered), the suggested mapping, the first rows as mapped values, what
  was detected and every warning. This is the upload's answer. It is :func:`observe` (the
  read) then :func:`decide` (the mapping), which a caller can also run apart, to look up a
  remembered mapping from the headers in between.
* :func:`read_records` streams the file through a confirmed mapping: one
  :class:`~fitdata_core.rules.csv_mapping.MappedRecord` per data row, fixes tallied. It keeps no
  row, so memory is flat in the file size; the import engine batches what it yields.
* :func:`import_records` is both in one call (two passes over the file; the first decides the
  date orders), for the CLI and the benchmark.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from itertools import islice, starmap

import attrs

from fitdata_adapters.csv_import.table import Detected, Source, open_table
from fitdata_core.errors import InvalidInput
from fitdata_core.rules.csv_mapping import (
    ColumnMapping,
    FixTally,
    MappedRecord,
    RowMapper,
    date_orders,
    recall_mapping,
    suggest_mapping,
)
from fitdata_core.rules.csv_table import ColumnProfile
from fitdata_core.rules.csv_values import DateOrder
from fitdata_core.rules.import_fields import MEMBER_FIELDS, PLAN_FIELDS

__all__ = [
    "Analysis",
    "Observed",
    "RecordStream",
    "analyse",
    "decide",
    "import_records",
    "observe",
    "read_records",
]

PREVIEW_ROWS = 5


@attrs.frozen
class Analysis:
    """What one read of a file found (the upload's answer, and what confirm needs later)."""

    headers: tuple[str, ...]
    total_rows: int
    suggested: ColumnMapping
    preview: tuple[dict[str, str], ...]
    detected: Detected
    warnings: tuple[str, ...]
    date_orders: Mapping[str, DateOrder]
    profile: ColumnProfile = attrs.field(eq=False, repr=False)

    def orders_for(self, mapping: ColumnMapping) -> dict[str, DateOrder]:
        """The date order of each date column ``mapping`` uses (decided from every row)."""
        return date_orders(self.profile, mapping)[0]

    def to_config(self) -> dict[str, object]:
        """What an import job keeps from the upload to run it later (JSON-safe): the upload
        answer plus, for every column holding slash dates, its decided order
        (``dateOrders``) and whether that was a guess (``ambiguousDateColumns``), so a mapping
        confirmed later reads each column the way its values said without a second pass."""
        seen = [(h, e) for h, e in zip(self.headers, self.profile.evidence, strict=True) if e.seen]
        return {
            **self.to_json(),
            "dateOrders": {header: evidence.order.value for header, evidence in seen},
            "ambiguousDateColumns": [h for h, evidence in seen if evidence.is_ambiguous],
        }

    def to_json(self) -> dict[str, object]:
        """The upload answer's parsing part, in the API's names."""
        return {
            "headers": list(self.headers),
            "suggestedMapping": self.suggested.to_json(),
            "previewRows": [dict(row) for row in self.preview],
            "totalRows": self.total_rows,
            "detected": self.detected.to_json(),
            "warnings": list(self.warnings),
        }


def _summary(orders: Mapping[str, DateOrder], profile: ColumnProfile) -> str | None:
    """The file's date order as reported: that of its mapped date columns holding d/m/y dates
    (or, with none mapped, of any column holding them); None without such dates; "mixed"."""
    evidence = [profile.date_evidence(header) for header in orders] or list(profile.evidence)
    chosen = {e.order for e in evidence if e.seen}
    if not chosen:
        return None
    return chosen.pop().value if len(chosen) == 1 else "mixed"


def _assume_orders(profile: ColumnProfile, orders: Mapping[str, str]) -> None:
    known = {order.value for order in DateOrder}
    for header, order in orders.items():
        if header in profile.headers and order in known:
            profile.date_evidence(header).prior = DateOrder(order)


def _preview_problems(records: list[MappedRecord]) -> list[str]:
    # A value no fix can save is left out of its preview row; without a word about it the
    # owner would see a row that looks fine and then fails once the job runs.
    return [
        f"Row {record.row}: {problem}; the row will fail unless the file is fixed."
        for record in records
        for problem in record.problems
    ]


@attrs.frozen
class Observed:
    """What reading a file found, before any mapping is decided: its headers, the column
    profile of every row, the first rows, the format and the reader's warnings.
    :func:`decide` turns it into the upload's :class:`Analysis`."""

    headers: tuple[str, ...]
    detected: Detected
    warnings: tuple[str, ...]
    first: tuple[tuple[int, list[str]], ...]
    profile: ColumnProfile = attrs.field(eq=False, repr=False)


def observe(
    source: Source,
    *,
    filename: str | None = None,
    sheet: str | None = None,
    require_rows: bool = True,
) -> Observed:
    """Read ``source`` once for :func:`decide`. ``require_rows``: a file with headers only is
    ``InvalidInput``."""
    with open_table(source, filename=filename, sheet=sheet) as table:
        profile = ColumnProfile(table.headers)
        first: list[tuple[int, list[str]]] = []
        for number, cells in table.rows():
            profile.observe(cells)
            if len(first) < PREVIEW_ROWS:
                first.append((number, cells))
        headers, detected, reader_warnings = table.headers, table.detected, table.warnings
    if require_rows and profile.rows == 0:
        raise InvalidInput("The file has a header row but no data rows.", field="file")
    return Observed(headers, detected, tuple(reader_warnings), tuple(first), profile)


def decide(
    observed: Observed,
    *,
    today: date,
    remembered: object = None,
    remembered_orders: Mapping[str, str] | None = None,
) -> Analysis:
    """The upload's answer for a file :func:`observe` read (see :func:`analyse`), without
    reading it again: so the mapping to remember can be looked up from its headers in
    between. Once per observation: ``remembered_orders`` are kept in its profile."""
    headers, profile = observed.headers, observed.profile
    suggested = recall_mapping(remembered, headers) if remembered is not None else None
    if suggested is not None and remembered_orders:
        _assume_orders(profile, remembered_orders)
    suggested = suggested or suggest_mapping(headers, profile, today=today)
    orders, date_warnings = date_orders(profile, suggested)
    mapper = RowMapper(headers, suggested.member_fields, orders=orders, today=today)
    mapped = [mapper.map(number, cells) for number, cells in observed.first]
    preview = tuple(record.values for record in mapped)
    return Analysis(
        headers=headers,
        total_rows=profile.rows,
        suggested=suggested,
        preview=preview,
        detected=attrs.evolve(observed.detected, date_order=_summary(orders, profile)),
        warnings=(*observed.warnings, *date_warnings, *_preview_problems(mapped)),
        date_orders=orders,
        profile=profile,
    )


def analyse(
    source: Source,
    *,
    filename: str | None = None,
    sheet: str | None = None,
    today: date,
    require_rows: bool = True,
    remembered: object = None,
    remembered_orders: Mapping[str, str] | None = None,
) -> Analysis:
    """Read ``source`` once (see the module docstring): :func:`observe` then :func:`decide`.
    ``require_rows``: a file with headers only is ``InvalidInput``. ``remembered``: the
    mapping the org confirmed for a file with the same headers (its JSON form, looked up by
    ``headers_fingerprint``); it is the suggestion while it still fits this file.
    ``remembered_orders``: the date orders that import's values proved (``{header: "dd/mm" |
    "mm/dd"}``); with the remembered mapping they decide the columns whose dates here could
    be read either way."""
    observed = observe(source, filename=filename, sheet=sheet, require_rows=require_rows)
    return decide(observed, today=today, remembered=remembered, remembered_orders=remembered_orders)


class RecordStream:
    """The records of one file under one mapping, iterated once; :attr:`tally` counts the
    fixes and :attr:`warnings` holds the reader's warnings once iteration is over."""

    def __init__(
        self,
        source: Source,
        mapping: ColumnMapping,
        *,
        orders: Mapping[str, DateOrder],
        today: date,
        filename: str | None = None,
        sheet: str | None = None,
        plans: bool = False,
        skip_rows: int = 0,
    ) -> None:
        self._source = source
        self._skip_rows = skip_rows
        self._mapping = mapping
        self._orders = orders
        self._today = today
        self._filename = filename
        self._sheet = sheet
        self._plans = plans
        self.tally = FixTally()
        self.warnings: list[str] = []

    def __iter__(self) -> Iterator[MappedRecord]:
        fields = self._mapping.plan_fields if self._plans else self._mapping.member_fields
        vocabulary = PLAN_FIELDS if self._plans else MEMBER_FIELDS
        with open_table(self._source, filename=self._filename, sheet=self._sheet) as table:
            missing = [h for h in fields if h not in table.headers]
            if missing:
                raise InvalidInput(
                    f"The file has no column {missing[0]!r} named in the mapping.",
                    field="columnMapping",
                )
            mapper = RowMapper(
                table.headers,
                fields,
                vocabulary=vocabulary,
                orders=self._orders,
                today=self._today,
                tally=self.tally,
            )
            map_row = mapper.map
            rows = table.rows()
            try:
                # Rows a resumed job staged already are parsed (the reader must pass them)
                # but not mapped: mapping is most of a row's cost.
                for _ in islice(rows, self._skip_rows):
                    pass
                # starmap: the rows go to the mapper in C, not through a Python loop of ours.
                yield from starmap(map_row, rows)
            finally:
                self.warnings = [*table.warnings, *self.tally.warnings()]


def read_records(
    source: Source,
    mapping: ColumnMapping,
    *,
    orders: Mapping[str, DateOrder],
    today: date,
    filename: str | None = None,
    sheet: str | None = None,
    plans: bool = False,
    skip_rows: int = 0,
) -> RecordStream:
    """The member records (or with ``plans`` the plan records) of ``source`` under
    ``mapping``, streamed, after its first ``skip_rows`` data rows; ``orders`` from
    :meth:`Analysis.orders_for`."""
    return RecordStream(
        source,
        mapping,
        orders=orders,
        today=today,
        filename=filename,
        sheet=sheet,
        plans=plans,
        skip_rows=skip_rows,
    )


def import_records(
    path: str,
    mapping: ColumnMapping | None = None,
    *,
    today: date,
    sheet: str | None = None,
) -> tuple[Analysis, RecordStream]:
    """Analyse the file at ``path`` and stream its member records under ``mapping`` (the
    suggested one when None): what the CLI and the benchmark run."""
    analysis = analyse(path, filename=path, sheet=sheet, today=today)
    chosen = mapping or analysis.suggested
    stream = read_records(
        path, chosen, orders=analysis.orders_for(chosen), today=today, filename=path, sheet=sheet
    )
    return analysis, stream
