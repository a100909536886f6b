"""Import files kept in object storage, read with this package's reader (``svc.import_files``).

The stored object is copied to a temporary file first (the reader needs a seekable file: it
samples the start to detect the format, then streams), and the reading runs in a worker
thread a page at a time, so a large file neither holds the event loop nor fills memory.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date
from functools import partial
from itertools import islice
from pathlib import Path

from fitdata_adapters.csv_import.pipeline import decide, observe, read_records
from fitdata_core.gc_pause import collector_paused
from fitdata_core.ports.import_files import FileAnalysis, Recall
from fitdata_core.ports.infrastructure import ObjectStorage
from fitdata_core.rules.csv_mapping import ColumnMapping, MappedRecord
from fitdata_core.rules.csv_values import DateOrder

__all__ = ["StoredImportFiles"]


class StoredImportFiles:
    """An :class:`~fitdata_core.ports.import_files.ImportFiles` over ``storage``."""

    def __init__(self, storage: ObjectStorage) -> None:
        self._storage = storage

    @asynccontextmanager
    async def _local_copy(self, key: str) -> AsyncIterator[Path]:
        handle, name = tempfile.mkstemp(prefix="fitdata-import-")
        path = Path(name)
        try:
            with os.fdopen(handle, "wb") as out:
                async for chunk in self._storage.read(key):
                    out.write(chunk)
            yield path
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def analyse(
        self,
        key: str,
        *,
        filename: str,
        sheet: str | None,
        today: date,
        recall: Recall | None = None,
    ) -> FileAnalysis:
        async with self._local_copy(key) as path:
            observed = await asyncio.to_thread(
                partial(observe, path, filename=filename, sheet=sheet)
            )
        # The remembered mapping is looked up from the headers just read, and decides the
        # suggestion from the same read: a file with a remembered mapping (a re-import) used
        # to be copied and read twice.
        remembered, orders = (None, {}) if recall is None else await recall(observed.headers)
        found = await asyncio.to_thread(
            partial(decide, observed, today=today, remembered=remembered, remembered_orders=orders)
        )
        answer = found.to_config()
        orders_by_header = dict(answer.pop("dateOrders"))  # type: ignore[call-overload]
        date_orders = {h: DateOrder(v) for h, v in orders_by_header.items()}
        return FileAnalysis(headers=found.headers, answer=answer, date_orders=date_orders)

    async def pages(
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
        async with self._local_copy(key) as path:
            stream = read_records(
                path,
                mapping,
                orders=orders,
                today=today,
                filename=filename,
                sheet=sheet,
                plans=plans,
                skip_rows=skip_rows,
            )
            rows: Iterator[MappedRecord] = iter(stream)

            def next_page() -> list[MappedRecord]:
                # Parsing and mapping a page allocates a few containers per row, all freed
                # by reference counting: no work for the cyclic collector.
                with collector_paused():
                    return list(islice(rows, page_size))

            try:
                while True:
                    page = await asyncio.to_thread(next_page)
                    if not page:
                        return
                    yield page
            finally:
                close = getattr(rows, "close", None)
                if close is not None:
                    close()
