"""Members-export benchmark: the real export path against Postgres's own ``COPY ... TO STDOUT``.

For each size (default 100,000 and 1,000,000 members) it seeds one organization with COPY
(then VACUUM ANALYZE, a checkpoint and one untimed read), then measures in the same run,
alternating (a) and (b):

(a) the real export path: :func:`process_member_export` (rows streamed from Postgres as CSV →
    local-folder storage writing a real file), each run in a fresh subprocess so the process's
    RSS growth is its own. Reported: rows/s, RSS delta (peak RSS during the export minus RSS
    before it), and the ``tracemalloc`` peak from one extra traced run;
(b) ``COPY (the export's SELECT of the plain columns) TO STDOUT WITH CSV`` through psycopg,
    reading every byte: Postgres writing the same rows with no neutralising at all;
(c) ``COPY (the export's own SQL) TO STDOUT (FORMAT csv)``: the exact statement the export
    runs on Postgres (cells neutralised in SQL, same bound parameters, ``jit = off``), the
    fair ceiling: the export can only add its own Python work to it.

and prints medians, the ratios (a)/(b) and (a)/(c), and whether the targets hold: at least
half of COPY's speed, and peak memory that does not grow with the row count (under 200 MB at
a million).

    uv run python bench/exports.py                       # throwaway database, 100k and 1M
    uv run python bench/exports.py --sizes 100000 --repeats 5
    uv run python bench/exports.py --database-url postgresql://postgres@127.0.0.1/postgres
    uv run python bench/exports.py --sizes 100000 --profile   # cProfile of one export

``--database-url`` names a server whose user may create databases; a database with a random
name is created there and dropped at the end. Without it the server is found the way the
test suite finds one (``FITDATA_TEST_POSTGRES_URL``, 127.0.0.1:5432, local binaries).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.dialects import postgresql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the test suite's Postgres provisioning

FIELDS = (
    "firstName",
    "lastName",
    "email",
    "phone",
    "role",
    "status",
    "joinedAt",
    "birthDate",
    "gender",
    "address",
    "city",
)
FIRST = ("נועה", "Tamar", "יונתן", "Omer", "מאיה", "Dana", "=cmd", "איתי")
LAST = ("כהן", "Levi", "מזרחי", "Azoulay", "פרץ", "Biton", "בן-דוד", "Katz")
CITIES = ("תל אביב-יפו", "Haifa", "ירושלים", "Be'er Sheva", "רמת גן")
STATUSES = ("active", "active", "active", "invited", "suspended", "cancelled")


# --- seeding -----------------------------------------------------------------------------------


def _rows(org_id: str, count: int) -> Iterator[tuple[tuple[Any, ...], ...]]:
    start = datetime(2023, 1, 1, tzinfo=UTC)
    for i in range(count):
        user_id = str(uuid.UUID(int=(hash(org_id) & 0xFFFF_FFFF) << 64 | i))
        joined = start + timedelta(minutes=i)
        first, last = FIRST[i % len(FIRST)], LAST[(i // 8) % len(LAST)]
        user = (
            user_id,
            f"member{i:07d}@{org_id[:8]}.bench.example",
            first,
            last,
            f"+972-5{i % 10}-{i % 1000:03d}-{i % 10000:04d}",
            False,
            joined,
        )
        membership = (str(uuid.uuid4()), org_id, user_id, "member", STATUSES[i % 6], joined)
        profile = (
            org_id,
            user_id,
            f"19{70 + i % 30}-0{1 + i % 9}-1{i % 10}",
            "female" if i % 2 else "male",
            f"{i % 200} Herzl St, apt {i % 40}" if i % 3 else None,
            CITIES[i % len(CITIES)],
            joined,
        )
        yield user, membership, profile


def seed(url: str, count: int) -> str:
    """One organization with ``count`` members (users, memberships, profiles) via COPY."""
    org_id = str(uuid.uuid4())
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO organizations (id, name, platform_tier, created_at) "
            "VALUES (%s, %s, 'lite', now())",
            (org_id, f"Bench gym {count}"),
        )
        owner_id = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO users (id, email, first_name, last_name, is_platform_admin, created_at)"
            " VALUES (%s, %s, 'Owner', 'Bench', false, now())",
            (owner_id, f"owner@{org_id[:8]}.bench.example"),
        )
        conn.execute(
            "INSERT INTO memberships (id, organization_id, user_id, role, status, created_at) "
            "VALUES (%s, %s, %s, 'owner', 'active', now())",
            (str(uuid.uuid4()), org_id, owner_id),
        )
        with conn.cursor() as cur:
            with (
                cur.copy(
                    "COPY users (id, email, first_name, last_name, phone, is_platform_admin, "
                    "created_at) FROM STDIN"
                ) as users,
            ):
                for user, _, _ in _rows(org_id, count):
                    users.write_row(user)
            with cur.copy(
                "COPY memberships (id, organization_id, user_id, role, status, created_at) "
                "FROM STDIN"
            ) as memberships:
                for _, membership, _ in _rows(org_id, count):
                    memberships.write_row(membership)
            with cur.copy(
                "COPY member_profiles (organization_id, user_id, birth_date, gender, address, "
                "city, updated_at) FROM STDIN"
            ) as profiles:
                for _, _, profile in _rows(org_id, count):
                    profiles.write_row(profile)
        conn.commit()
        # VACUUM as well: the first scan of freshly copied rows sets their hint bits (writing
        # every page), which would land on whichever side is measured first.
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE) users, memberships, member_profiles")
        # And write what seeding and VACUUM dirtied now, not during the first measured run.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")
    return org_id


def owner_of(url: str, org_id: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT user_id FROM memberships WHERE organization_id = %s AND role = 'owner'",
            (org_id,),
        ).fetchone()
    assert row is not None
    return str(row[0])


# --- (b) COPY ------------------------------------------------------------------------------------


def export_query_sql(org_id: str) -> str:
    """The SELECT the export streams (same joins, filter, columns and order), as literal SQL."""
    from fitdata_adapters.db.repositories.organizations import (
        ATTRIBUTE_COLUMNS,
        MEMBER_ORDER,
        members_query,
    )
    from fitdata_core.ports.repositories import MemberFilter
    from fitdata_core.rules.export_fields import member_export_request

    attributes = member_export_request(fields=FIELDS).attributes
    query = (
        members_query(org_id, MemberFilter())
        .with_only_columns(*(ATTRIBUTE_COLUMNS[path] for path in attributes))
        .order_by(*MEMBER_ORDER)
    )
    compiled = query.compile(
        dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"literal_binds": True},
    )
    return str(compiled)


def export_own_sql(org_id: str) -> tuple[str, dict[str, Any]]:
    """The export's own SELECT on Postgres, as ``stream_member_csv`` runs it: every cell
    neutralised in SQL, with its bound parameters (the export does not inline them)."""
    from fitdata_adapters.db.repositories.member_csv import member_csv_query
    from fitdata_core.ports.repositories import MemberFilter
    from fitdata_core.rules.export_fields import member_export_request

    attributes = member_export_request(fields=FIELDS).attributes
    query = member_csv_query(org_id, MemberFilter(), attributes, utf8=True)
    compiled = query.compile(
        dialect=postgresql.psycopg.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"render_postcompile": True},
    )
    return str(compiled), dict(compiled.params)


def time_copy(url: str, org_id: str) -> dict[str, float]:
    """(b) Postgres's COPY of the plain columns (no neutralising): the raw ceiling."""
    sql = f"COPY ({export_query_sql(org_id)}) TO STDOUT WITH (FORMAT csv, HEADER)"
    size = 0
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        with cur.copy(sql) as copy:
            for data in copy:
                size += len(data)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "bytes": size}


def time_own_copy(url: str, org_id: str) -> dict[str, float]:
    """(c) Postgres's COPY of the export's own SQL, with the session settings the export
    uses: the fair ceiling, since it does the same work in the database and leaves out only
    what the export does in Python (CR LF, the upload, the job's bookkeeping)."""
    select, params = export_own_sql(org_id)
    size = 0
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SET LOCAL client_encoding = 'UTF8'")
        cur.execute("SET LOCAL jit = off")
        started = time.perf_counter()
        with cur.copy(f"COPY ({select}) TO STDOUT (FORMAT csv)", params) as copy:
            for data in copy:
                size += len(data)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "bytes": size}


# --- (a) the export path, in a child process -------------------------------------------------


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def _child(url: str, org_id: str, owner_id: str, traced: bool, profile: str | None) -> None:
    from fitdata_adapters.clock import SystemClock
    from fitdata_adapters.db.engine import create_engine
    from fitdata_adapters.db.uow import SqlUnitOfWorkFactory
    from fitdata_adapters.memory import MemoryErrorReporter, memory_services
    from fitdata_adapters.storage.local import LocalFolderStorage
    from fitdata_core.services import Actor
    from fitdata_core.usecases.exports import process_member_export, request_member_export

    folder = Path(tempfile.mkdtemp(prefix="fitdata-bench-"))
    engine = create_engine(url)
    storage = LocalFolderStorage(
        folder, public_url="http://bench.invalid", signing_key=b"b" * 32, clock=SystemClock()
    )
    errors = MemoryErrorReporter()
    svc = memory_services(
        uow=SqlUnitOfWorkFactory(engine), clock=SystemClock(), storage=storage, errors=errors
    )
    job_id = await request_member_export(
        svc, Actor(owner_id), org_id, fields=FIELDS, client_ip="bench"
    )
    # Warm the pool and the code paths the export takes, outside the measurement.
    async with svc.uow() as uow:
        await uow.export_jobs.get(job_id)
    # Reset the peak RSS (VmHWM) to now; a tiny procfs write, nothing to wait for.
    Path("/proc/self/clear_refs").write_text("5")  # noqa: ASYNC240
    rss_before = _rss_kib("VmRSS")
    if traced:
        tracemalloc.start()
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    job = await process_member_export(svc, job_id=job_id)
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - started
    traced_peak = tracemalloc.get_traced_memory()[1] if traced else 0
    rss_peak = _rss_kib("VmHWM")
    assert job is not None, "no job"
    if job.row_count is None:
        raise SystemExit(f"export failed: {job.error_message} {errors.exceptions}")
    if profiler is not None and profile is not None:
        profiler.dump_stats(profile)
    await engine.dispose()
    file = folder / "exports" / org_id / f"{job_id}.csv"
    size = file.stat().st_size
    with file.open("rb") as written:  # the first bytes only: the file may be 150 MiB
        assert written.read(3) == b"\xef\xbb\xbf", "the CSV must start with a UTF-8 BOM"
    file.unlink()
    print(
        json.dumps(
            {
                "rows": job.row_count,
                "seconds": seconds,
                "bytes": size,
                "rss_delta_mib": (rss_peak - rss_before) / 1024,
                "tracemalloc_peak_mib": traced_peak / 2**20,
            }
        )
    )


def run_export(
    url: str, org_id: str, owner_id: str, *, traced: bool = False, profile: str | None = None
) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", url, org_id, owner_id]
    if traced:
        command.append("--traced")
    if profile:
        command += ["--profile-to", profile]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"export child failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- the run -------------------------------------------------------------------------------------


def _database(server_url: str | None) -> tuple[str, Any]:
    from support.databases import create_database, drop_database, unique_database_name
    from support.services import provision_postgres

    service = None
    if server_url is None:
        service = provision_postgres()
        server_url = service.url
    name = unique_database_name("fitdata_bench")
    url = create_database(server_url, name)

    def cleanup() -> None:
        drop_database(server_url, name)
        if service is not None:
            service.stop()

    return url, cleanup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a Postgres server (user may CREATE DATABASE)")
    parser.add_argument("--sizes", default="100000,1000000", help="member counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per size (median)")
    parser.add_argument("--profile", action="store_true", help="cProfile one export per size")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    from fitdata_adapters.db.migrate import upgrade

    url, cleanup = _database(args.database_url)
    try:
        upgrade(url)
        print(f"Postgres: {psycopg.connect(url).info.server_version}  python {sys.version[:6]}")
        print(f"fields: {', '.join(FIELDS)}; {args.repeats} timed runs per size, medians\n")
        results = []
        for size in sizes:
            started = time.perf_counter()
            org_id = seed(url, size)
            owner = owner_of(url, org_id)
            print(f"seeded {size:,} members in {time.perf_counter() - started:.1f}s")
            # One untimed read first (the table's first scan after seeding is the slowest),
            # then alternated, so that a busier or quieter spell of the machine falls on both.
            time_copy(url, org_id)
            time_own_copy(url, org_id)
            runs, copies, own_copies = [], [], []
            for _ in range(args.repeats):
                runs.append(run_export(url, org_id, owner))
                copies.append(time_copy(url, org_id))
                own_copies.append(time_own_copy(url, org_id))
            traced = run_export(url, org_id, owner, traced=True)
            rows = int(runs[0]["rows"])
            export_rps = statistics.median(rows / r["seconds"] for r in runs)
            copy_rps = statistics.median(rows / c["seconds"] for c in copies)
            own_rps = statistics.median(rows / c["seconds"] for c in own_copies)
            rss = statistics.median(r["rss_delta_mib"] for r in runs)
            result = {
                "size": size,
                "rows": rows,
                "export_rps": export_rps,
                "export_s": statistics.median(r["seconds"] for r in runs),
                "copy_rps": copy_rps,
                "copy_s": statistics.median(c["seconds"] for c in copies),
                "ratio": export_rps / copy_rps,
                "own_rps": own_rps,
                "own_s": statistics.median(c["seconds"] for c in own_copies),
                "own_ratio": export_rps / own_rps,
                "rss_mib": rss,
                "traced_mib": traced["tracemalloc_peak_mib"],
                "csv_mib": runs[0]["bytes"] / 2**20,
                "copy_mib": copies[0]["bytes"] / 2**20,
                "own_mib": own_copies[0]["bytes"] / 2**20,
            }
            results.append(result)
            print(
                f"  export path : {export_rps:>10,.0f} rows/s  ({result['export_s']:.2f}s, "
                f"CSV {result['csv_mib']:.1f} MiB)  runs: "
                + ", ".join(f"{rows / r['seconds']:,.0f}" for r in runs)
            )
            print(
                f"  COPY        : {copy_rps:>10,.0f} rows/s  ({result['copy_s']:.2f}s, "
                f"CSV {result['copy_mib']:.1f} MiB, same columns, plain)"
            )
            print(
                f"  COPY own SQL: {own_rps:>10,.0f} rows/s  ({result['own_s']:.2f}s, "
                f"CSV {result['own_mib']:.1f} MiB, the export's own SELECT)"
            )
            print(
                f"  ratio       : {result['ratio']:.2f} of COPY's speed (plain columns), "
                f"{result['own_ratio']:.2f} of COPY of the export's own SQL (the fair ceiling)"
            )
            print(
                f"  memory      : RSS delta {rss:.1f} MiB, tracemalloc peak "
                f"{result['traced_mib']:.1f} MiB\n"
            )
            if args.profile:
                profile = tempfile.mktemp(suffix=".prof")  # noqa: S306 - a local scratch file
                run_export(url, org_id, owner, profile=profile)
                out = io.StringIO()
                pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(15)
                print(out.getvalue())
                os.unlink(profile)
        _verdict(results)
    finally:
        cleanup()


def _verdict(results: list[dict[str, Any]]) -> None:
    print(
        "size       export rows/s   COPY rows/s  ratio  COPY own SQL  ratio  RSS delta  tracemalloc"
    )
    for r in results:
        print(
            f"{r['size']:>9,}  {r['export_rps']:>13,.0f}  {r['copy_rps']:>12,.0f}  "
            f"{r['ratio']:>5.2f}  {r['own_rps']:>12,.0f}  {r['own_ratio']:>5.2f}  "
            f"{r['rss_mib']:>6.1f} MiB  {r['traced_mib']:>7.1f} MiB"
        )
    speed = all(r["ratio"] >= 0.5 for r in results)
    memory = all(r["rss_mib"] < 200 and r["traced_mib"] < 200 for r in results)
    if len(results) > 1:
        small, big = results[0], results[-1]
        # Flat: ten times the rows may not need more than a little more memory.
        memory = memory and big["traced_mib"] < small["traced_mib"] * 2 + 5
    print(f"\ntarget speed  (>= 0.5 of COPY):           {'MET' if speed else 'MISSED'}")
    print(
        "  (ratio to COPY of the export's own SQL: "
        + ", ".join(f"{r['own_ratio']:.2f}" for r in results)
        + ")"
    )
    print(f"target memory (flat, < 200 MB at 1M rows): {'MET' if memory else 'MISSED'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, child_url, child_org, child_owner, *rest = sys.argv
        profile_to = rest[rest.index("--profile-to") + 1] if "--profile-to" in rest else None
        asyncio.run(_child(child_url, child_org, child_owner, "--traced" in rest, profile_to))
    else:
        main()
