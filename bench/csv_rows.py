"""CPU per CSV member row on the import's stage path, part by part (µs a row, CPU clock).

What one stage step of a CSV import does to each row, measured outside the engine on the
bench's member file (``csv_reader.write_file``), each part on its own with the cyclic
collector paused as the engine pauses it (``fitdata_core.gc_pause``):

* ``parse``: the file opened and its rows read (encoding, the C ``csv`` reader, row shaping);
* ``map``: the same read through the suggested mapping (``read_records``: the Excel fixes, the
  date columns), less ``parse``;
* ``check``: the value rules of the engine's stage step (``csv_source.check``: email syntax,
  E.164 phones, names, dates, each fix named as a warning);
* ``record``: the checked record as the engine hands it to staging (the record itself where
  the store takes one, ``record.to_dict()`` before);
* ``stage``: ``uow.imports.stage`` of 10,000-row pages, a ``COPY`` into a temporary
  ``import_staging`` table of a throwaway database (only this process's CPU is counted:
  Postgres's own work is not);
* ``analyse``: the upload's analysis pass over the whole file (per row too, for scale).

It touches only what the engine and the upload call, so the same script measures another
checkout's code: run it with that checkout's environment (``cd ../other && uv run python
/path/to/bench/csv_rows.py``) and the two outputs compare side by side.

    uv run python bench/csv_rows.py                      # 100,000 rows, median of 5
    uv run python bench/csv_rows.py --rows 100000 --repeats 5 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the test suite's Postgres provisioning

TODAY = date(2026, 12, 2)
PAGE = 10_000

_STAGING = """
CREATE TEMPORARY TABLE import_staging (
    job_id text, entity varchar(16), seq integer, data jsonb,
    m_external_id text, m_email text, m_first_name text, m_last_name text, m_phone text,
    m_status text, m_birth_date text, m_gender text, m_plan_name text, m_start_date text,
    m_end_date text, PRIMARY KEY (job_id, entity, seq)
)
"""


def _cpu(work: Callable[[], Any]) -> tuple[float, Any]:
    from fitdata_core.gc_pause import collector_paused

    with collector_paused():
        started = time.process_time()
        result = work()
        return time.process_time() - started, result


def _once(path: str, database_url: str) -> dict[str, float]:
    from fitdata_adapters.csv_import import analyse, open_table, read_records
    from fitdata_core.model.imports import ImportEntity
    from fitdata_core.usecases.imports import csv_source

    analysed_s, analysis = _cpu(lambda: analyse(path, filename=path, today=TODAY))
    mapping = analysis.suggested
    orders = analysis.orders_for(mapping)

    def parse() -> int:
        with open_table(path, filename=path) as table:
            return sum(1 for _ in table.rows())

    def read() -> list[Any]:
        return list(read_records(path, mapping, orders=orders, today=TODAY, filename=path))

    parse_s, rows = _cpu(parse)
    read_s, mapped = _cpu(read)
    check = csv_source.check(ImportEntity.MEMBERS, today=TODAY)
    check_s, checked = _cpu(lambda: [check(item) for item in mapped])
    records = [record for record, _ in checked if record is not None]
    # As the engine hands them to staging: a member record as it is where the store takes
    # one (``MemberRecord.columns``), its dict in code from before that.
    if hasattr(records[0], "columns"):
        record_s, dicts = _cpu(lambda: list(enumerate(records)))
    else:
        record_s, dicts = _cpu(lambda: [(i, r.to_dict()) for i, r in enumerate(records)])
    stage_s = asyncio.run(_stage(database_url, dicts))
    assert rows == len(mapped) == analysis.total_rows
    per_row = 1e6 / rows
    return {
        "rows": rows,
        "staged": len(dicts),
        "parse": parse_s * per_row,
        "map": (read_s - parse_s) * per_row,
        "check": check_s * per_row,
        "record": record_s * per_row,
        "stage": stage_s * per_row,
        "analyse": analysed_s * per_row,
    }


async def _stage(database_url: str, dicts: list[tuple[int, Any]]) -> float:
    """CPU seconds of ``uow.imports.stage`` over ``dicts`` in 10,000-row pages (COPY)."""
    import sqlalchemy as sa

    from fitdata_adapters.db.engine import create_engine
    from fitdata_adapters.db.repositories.base import SqlSession
    from fitdata_adapters.db.repositories.imports import SqlImportData
    from fitdata_core.gc_pause import collector_paused

    engine = create_engine(database_url)
    spent = 0.0
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(_STAGING))
            session = SqlSession()
            session.bind(conn)
            repository = SqlImportData(session)
            # One small page first, untimed: the first COPY of a process pays for imports and
            # statement compiling that a job's later steps do not.
            await repository.stage("warm-up", "members", dicts[:100])
            for start in range(0, len(dicts), PAGE):
                page = dicts[start : start + PAGE]
                with collector_paused():
                    started = time.process_time()
                    await repository.stage("bench-job", "members", page)
                    spent += time.process_time() - started
            count = sa.text("SELECT count(*) FROM import_staging WHERE job_id = 'bench-job'")
            staged = (await conn.execute(count)).scalar()
            assert staged == len(dicts), staged
            await conn.rollback()
    finally:
        await engine.dispose()
    return spent


PARTS = ("parse", "map", "check", "record", "stage")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print each run as a JSON line")
    parser.add_argument("--database-url", help="a Postgres server (user may CREATE DATABASE)")
    args = parser.parse_args()

    from csv_reader import write_file
    from support.databases import create_database, drop_database, unique_database_name

    server_url = args.database_url
    service = None
    if server_url is None:
        from support.services import provision_postgres

        service = provision_postgres()
        server_url = service.url
    name = unique_database_name("fitdata_bench")
    url = create_database(server_url, name)
    runs: list[dict[str, float]] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = str(Path(folder) / f"members-{args.rows}.csv")
            write_file(Path(path), args.rows)
            for _ in range(args.repeats):
                run = _once(path, url)
                runs.append(run)
                if args.json:
                    print(json.dumps(run), flush=True)
    finally:
        drop_database(server_url, name)
        if service is not None:
            service.stop()
    median = {k: statistics.median(r[k] for r in runs) for k in (*PARTS, "analyse")}
    total = sum(median[k] for k in PARTS)
    print(
        f"{runs[0]['rows']:,} rows ({runs[0]['staged']:,} staged), µs of CPU a row, median of"
        f" {len(runs)}: "
        + ", ".join(f"{k} {median[k]:.2f}" for k in PARTS)
        + f"; stage path {total:.2f}; upload's analysis pass {median['analyse']:.2f}"
    )


if __name__ == "__main__":
    main()
