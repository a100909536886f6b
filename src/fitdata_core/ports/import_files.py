"""The port a CSV or Excel import reads its stored file through (``svc.import_files``).

An uploaded file is kept in object storage under a key; reading it (format detection, the
header-mapping preview, mapped rows) is the adapter's work. The core sees what it needs to
decide: the preview once (:class:`FileAnalysis`), then, when the job runs, the mapped rows in
pages (:class:`~fitdata_core.rules.csv_mapping.MappedRecord`), streamed so memory stays flat
in the file's size.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import date
from typing import Any, Protocol

import attrs

from fitdata_core.rules.csv_mapping import ColumnMapping, MappedRecord
from fitdata_core.rules.csv_values import DateOrder

__all__ = ["FileAnalysis", "ImportFiles", "Recall"]

Recall = Callable[[Sequence[str]], Awaitable[tuple[object, Mapping[str, str]]]]
"""An upload's look-up of what the org confirmed for a file with these headers: the mapping
(its JSON form, or None) and the date orders it proved (``{header: "dd/mm" | "mm/dd"}``)."""


@attrs.frozen
class FileAnalysis:
    """One read of an uploaded file: its (cleaned) ``headers``, the upload ``answer`` in the
    API's names (headers, suggestedMapping, previewRows, totalRows, detected, warnings) and
    ``date_orders``: the order each column holding slash dates is read in, decided from all
    its values."""

    headers: tuple[str, ...]
    answer: Mapping[str, Any]
    date_orders: Mapping[str, DateOrder]


class ImportFiles(Protocol):
    """Reads import files kept in object storage."""

    async def analyse(
        self,
        key: str,
        *,
        filename: str,
        sheet: str | None,
        today: date,
        recall: Recall | None = None,
    ) -> FileAnalysis:
        """Read the file once for the upload's answer. ``recall``: called with the file's
        headers once they are read, it answers the mapping the org confirmed for a file with
        the same headers (None without), suggested first while it fits, and the date orders
        that import's values proved, which then decide the columns whose dates here could be
        read either way. Raises ``InvalidInput`` for a file that is not text or not a real
        workbook, or has no rows; ``NotFound`` or ``StorageUnavailable`` from the storage."""
        ...

    def pages(
        self,
        key: str,
        *,
        filename: str,
        sheet: str | None,
        mapping: ColumnMapping,
        orders: Mapping[str, DateOrder],
        today: date,
        plans: bool = False,
        page_size: int = 1000,
        skip_rows: int = 0,
    ) -> AsyncIterator[Sequence[MappedRecord]]:
        """The file's rows under ``mapping`` (its member fields, or with ``plans`` its plan
        fields), ``page_size`` at a time, in file order, after its first ``skip_rows`` data
        rows (read past without being mapped: a resumed job's staged pages)."""
        ...
