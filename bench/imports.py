"""Import benchmark: the real import engine into Postgres, from a member source and from a CSV file.

Arbox cases (``--cases arbox``): for each size (default 1,500 and 100,000 members) a throwaway
database, a gym, and an in-memory member source serving pages of 500 with ``--latency-ms``
(50) per request; an import runs the way a worker does (each queued ``import_run`` message
delivered to the engine until none is left), from scratch and again with the same source (an
identical re-import, which must write nothing), without enrichment and, for the
``--enrich-sizes`` (default 1,500), with it (one detail request per member, same latency).
With ``--source arbox`` the members come from the project's Arbox sandbox over HTTP instead
(Management path: login and both reports; plans and details from the Business API).

CSV cases (``--cases csv``): for each size (default 100,000 and 1,000,000 rows) a member file
as a gym's Excel writes it (``csv_reader.write_file``: UTF-8 with BOM, Hebrew and English
names, phones without their leading zero, dd/mm/yyyy birthdays, 1% bad rows), imported end to
end by the code the HTTP API runs: ``upload_csv`` (stored in the runtime's object storage, a
local folder, and analysed for the preview), ``confirm_csv`` with the suggested mapping, then
every queued ``import_run`` delivered to the engine until none is left (its stage steps read
the stored file through the mapping and check the rows) until the job completes. Beside it,
measured in the same run on a database of its own, the ceiling: the same file ``COPY``'d into a
staging table and one ``INSERT … ON CONFLICT … WHERE … IS DISTINCT FROM`` into each of users,
memberships and member profiles. Both run twice (first import, identical re-import); the
rows written by the member tables are counted from the rows' ``xmin`` (an identical re-import
must write none).

Every run is its own subprocess, so its peak RSS is its own; it prints wall time, rows/s,
queue messages and peak RSS, and for CSV the ratio to the ceiling. With ``--csv-repeats N``
the CSV cases run N times each, on fresh databases every time, and end with the medians of
engine and ceiling and the ratio of the medians: on a shared machine one run's ratio moves
by a tenth or more (the ceiling's own time alone varies by a fifth from run to run).

    uv run python bench/imports.py                                   # every case
    uv run python bench/imports.py --cases arbox --sizes 1500,100000
    uv run python bench/imports.py --cases csv --csv-sizes 100000
    uv run python bench/imports.py --cases csv --csv-sizes 100000 --csv-repeats 5   # medians
    uv run python bench/imports.py --cases csv --csv-sizes 100000 --profile var/profiles
    uv run python bench/imports.py --cases arbox --source arbox --sizes 1500 --enrich-sizes 1500
    uv run python bench/imports.py --database-url postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the test suite's Postgres provisioning and helpers


def _env(database_url: str) -> dict[str, str]:
    return {
        "FITDATA_MODE": "embedded",
        "FITDATA_DATA_DIR": str(ROOT / "var" / "bench-imports"),
        "FITDATA_DATABASE_URL": database_url,
        "FITDATA_JWT_SECRET": "bench-imports-secret-long-enough-for-hs256",
    }


async def _one_import(
    database_url: str, size: int, latency_ms: float, enrich: bool, arbox_url: str | None = None
) -> dict[str, Any]:
    import sqlalchemy as sa

    from fitdata_adapters.bootstrap import bootstrap
    from fitdata_adapters.db import tables as t
    from fitdata_adapters.memory import MemoryJobQueue
    from fitdata_adapters.memory.member_source import MemoryMemberSource
    from fitdata_adapters.settings import Settings
    from fitdata_core.ports.providers import MemberSource, SourceCredentials, SourceMemberDetail
    from fitdata_core.services import Actor
    from fitdata_core.usecases.imports import ImportRequest, start_import
    from support.fakes import NoPayments
    from support.imports import API_KEY, PLANS, drain, job_of, members

    env = _env(database_url)
    source: MemberSource | None = None
    credentials = API_KEY
    if arbox_url is None:
        rows = members(size)
        source = MemoryMemberSource(
            plans=PLANS,
            members=rows,
            details=[SourceMemberDetail(r.external_id, city="Haifa") for r in rows],
            page_size=500,
            latency=latency_ms / 1000,
        )
    else:
        from fitdata_adapters.arbox_sandbox import SandboxConfig

        # The composition root builds the real ArboxSource for this origin.
        env["FITDATA_ARBOX_BASE_URL"] = arbox_url
        sandbox = SandboxConfig()
        credentials = SourceCredentials(
            api_key=sandbox.api_key, email=sandbox.email, password=sandbox.password
        )
    settings = Settings.from_env(env)
    runtime = bootstrap(
        settings,
        payment_gateway=NoPayments(),
        queue=MemoryJobQueue(),
        member_source=source,
    )
    svc = runtime.services
    try:
        async with runtime.engine.connect() as conn:
            owner_id = (
                await conn.execute(
                    sa.select(t.memberships.c.user_id, t.memberships.c.organization_id).where(
                        t.memberships.c.role == "owner"
                    )
                )
            ).one()
        started = time.perf_counter()
        job_id = await start_import(
            svc,
            Actor(owner_id[0]),
            owner_id[1],
            ImportRequest(credentials=credentials, enrich=enrich),
        )
        messages = await drain(svc, limit=100_000)
        elapsed = time.perf_counter() - started
        job = await job_of(svc, job_id)
    finally:
        await runtime.aclose()
    return {
        "status": job.status.value,
        "seconds": elapsed,
        "messages": messages,
        "members": job.results.get("members", {}),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# --- CSV: a member file through the real flow: upload, confirm, the engine's steps ----------

CSV_TABLES = ("users", "memberships", "member_profiles")


async def _file_chunks(path: str) -> Any:
    """The file as the upload receives it, a block at a time."""
    with open(path, "rb") as source:  # noqa: ASYNC230 - the bench's own file
        while block := source.read(1 << 20):
            yield block


async def _written_since(conn: Any, xid: int) -> int:
    """Rows of the member tables written by a transaction newer than ``xid``."""
    import sqlalchemy as sa

    total = 0
    for table in CSV_TABLES:
        total += (
            await conn.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE xmin::text::bigint > :xid"),
                {"xid": xid},
            )
        ).scalar_one()
    return int(total)


async def _current_xid(engine: Any) -> int:
    import sqlalchemy as sa

    async with engine.connect() as conn:
        return int((await conn.execute(sa.text("SELECT txid_current() % 4294967296"))).scalar_one())


async def _csv_import(database_url: str, path: str) -> dict[str, Any]:
    """The file on disk to a completed job by the code the HTTP upload and confirm call:
    ``upload_csv`` (stored in the runtime's object storage, analysed for the preview),
    ``confirm_csv`` with the suggested mapping, then every queued ``import_run`` delivered to
    the engine until none is left (its stage steps read the stored file)."""
    import sqlalchemy as sa

    from fitdata_adapters.bootstrap import bootstrap
    from fitdata_adapters.db import tables as t
    from fitdata_adapters.memory import MemoryJobQueue
    from fitdata_adapters.settings import Settings
    from fitdata_core.services import Actor
    from fitdata_core.usecases.imports import csv_files
    from support.fakes import NoPayments
    from support.imports import drain, job_of

    settings = Settings.from_env(_env(database_url))
    runtime = bootstrap(settings, payment_gateway=NoPayments(), queue=MemoryJobQueue())
    svc = runtime.services
    try:
        async with runtime.engine.connect() as conn:
            owner, org = (
                await conn.execute(
                    sa.select(t.memberships.c.user_id, t.memberships.c.organization_id).where(
                        t.memberships.c.role == "owner"
                    )
                )
            ).one()
        actor = Actor(owner)
        before = await _current_xid(runtime.engine)
        started = time.perf_counter()
        upload = await csv_files.upload_csv(
            svc, actor, org, filename=Path(path).name, chunks=_file_chunks(path)
        )
        uploaded = time.perf_counter() - started
        job_id = await csv_files.confirm_csv(
            svc,
            actor,
            org,
            upload.job_id,
            column_mapping=dict(upload.preview["suggestedMapping"]),
            entities={"members": True},
        )
        messages = await drain(svc, limit=100_000)
        elapsed = time.perf_counter() - started
        done = await job_of(svc, job_id)
        async with runtime.engine.connect() as conn:
            written = await _written_since(conn, before)
    finally:
        await runtime.aclose()
    return {
        "status": done.status.value,
        "error": done.error_message,
        "seconds": elapsed,
        "upload_seconds": uploaded,
        "messages": messages,
        "members": done.results.get("members", {}),
        "written": written,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# The ceiling: what Postgres itself does with the same rows and tables, no checks, no undo
# log, no job: COPY the file into a staging table, then one INSERT … ON CONFLICT per table
# (that writes nothing for an unchanged row).
_CEILING_STAGE = """
CREATE TEMPORARY TABLE ceiling_staging (
    email text, first_name text, last_name text, phone text, birthday text, plan text,
    city text
) ON COMMIT DROP
"""
_CEILING_UPSERTS = (
    """
    INSERT INTO users (id, email, first_name, last_name, phone, is_platform_admin, created_at)
    SELECT gen_random_uuid()::text, lower(email), first_name, last_name, phone, false, now()
    FROM ceiling_staging
    ON CONFLICT (email) DO UPDATE SET first_name = excluded.first_name,
        last_name = excluded.last_name, phone = excluded.phone
    WHERE (users.first_name, users.last_name, users.phone)
        IS DISTINCT FROM (excluded.first_name, excluded.last_name, excluded.phone)
    """,
    """
    INSERT INTO memberships (id, organization_id, user_id, role, status, plan_id, created_at)
    SELECT gen_random_uuid()::text, :org, u.id, 'member', 'active', p.id, now()
    FROM ceiling_staging AS s JOIN users AS u ON u.email = lower(s.email)
    LEFT JOIN plans AS p ON p.organization_id = :org AND p.name = s.plan
    ON CONFLICT (organization_id, user_id) DO UPDATE SET plan_id = excluded.plan_id
    WHERE memberships.plan_id IS DISTINCT FROM excluded.plan_id
    """,
    """
    INSERT INTO member_profiles (organization_id, user_id, birth_date, city, updated_at)
    SELECT :org, u.id, s.birthday, s.city, now()
    FROM ceiling_staging AS s JOIN users AS u ON u.email = lower(s.email)
    ON CONFLICT (organization_id, user_id) DO UPDATE SET birth_date = excluded.birth_date,
        city = excluded.city
    WHERE (member_profiles.birth_date, member_profiles.city)
        IS DISTINCT FROM (excluded.birth_date, excluded.city)
    """,
)


async def _ceiling(database_url: str, path: str) -> dict[str, Any]:
    import sqlalchemy as sa

    from fitdata_adapters.db import tables as t
    from fitdata_adapters.db.engine import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            org = (
                await conn.execute(
                    sa.select(t.memberships.c.organization_id).where(
                        t.memberships.c.role == "owner"
                    )
                )
            ).scalar_one()
        before = await _current_xid(engine)
        started = time.perf_counter()
        async with engine.begin() as conn:
            await conn.execute(sa.text(_CEILING_STAGE))
            raw = (await conn.get_raw_connection()).driver_connection
            async with raw.cursor() as cursor:
                copy_sql = "COPY ceiling_staging FROM STDIN (FORMAT csv, HEADER true)"
                async with cursor.copy(copy_sql) as copy:
                    with open(path, "rb") as source:  # noqa: ASYNC230 - the bench's own file
                        head = source.read(3)
                        if head != b"\xef\xbb\xbf":  # the BOM Excel writes
                            await copy.write(head)
                        while block := source.read(1 << 20):
                            await copy.write(block)
            for sql in _CEILING_UPSERTS:
                await conn.execute(sa.text(sql), {"org": org})
        elapsed = time.perf_counter() - started
        async with engine.connect() as conn:
            written = await _written_since(conn, before)
    finally:
        await engine.dispose()
    return {
        "seconds": elapsed,
        "written": written,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _profiled(run: Any, out: str) -> Any:
    """``run()`` under cProfile, its stats written to ``out``. cProfile sees one thread, so
    the work the import hands to worker threads (``asyncio.to_thread``: reading the file) runs
    inline on the event loop's thread here: the CPU breakdown is whole, the overlap is not."""
    import cProfile

    async def inline(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    asyncio.to_thread = inline  # type: ignore[assignment]
    profile = cProfile.Profile()
    try:
        return profile.runcall(run)
    finally:
        profile.dump_stats(out)


def _child(args: argparse.Namespace) -> None:
    if args.child_kind == "csv" and args.child_profile:
        result = _profiled(
            lambda: asyncio.run(_csv_import(args.child_url, args.child_file)), args.child_profile
        )
    elif args.child_kind == "csv":
        result = asyncio.run(_csv_import(args.child_url, args.child_file))
    elif args.child_kind == "ceiling":
        result = asyncio.run(_ceiling(args.child_url, args.child_file))
    else:
        result = asyncio.run(
            _one_import(
                args.child_url, args.child_size, args.latency_ms, args.enrich, args.child_arbox_url
            )
        )
    print(json.dumps(result))


def _run_child(url: str, kind: str, *extra: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child-url", url, "--child-kind", kind, *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    # Modules compiled once and cached (``.pyc``), as a worker that has run a job has them
    # loaded: the engine imports some of them inside the timed window, and a shell with
    # ``PYTHONDONTWRITEBYTECODE=1`` had every run compile them again there.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _seed_gym(url: str, *, plan: str | None = None) -> None:
    async def seed() -> None:
        from fitdata_adapters.db.engine import create_engine
        from fitdata_adapters.db.uow import SqlUnitOfWorkFactory
        from fitdata_adapters.memory.services import memory_services
        from support import builders
        from support.imports import add_gym

        engine = create_engine(url)
        try:
            svc = memory_services(uow=SqlUnitOfWorkFactory(engine))
            gym = await add_gym(svc)
            if plan is not None:
                async with svc.uow() as uow:
                    await uow.plans.add(builders.plan(gym.org_id, name=plan))
                    await uow.commit()
        finally:
            await engine.dispose()

    asyncio.run(seed())


def _start_arbox(size: int, latency_ms: float) -> Any:
    """The sandbox serving a generated gym of ``size`` members, in this (parent) process, so
    the import's peak RSS is the importer's own."""
    from fitdata_adapters.arbox_sandbox import SandboxConfig, SandboxThread

    return SandboxThread(SandboxConfig(members=size, latency_ms=latency_ms)).start()


def _arbox_cases(args: argparse.Namespace, server_url: str) -> None:
    from fitdata_adapters.db.migrate import upgrade
    from support.databases import create_database, drop_database, unique_database_name

    described = (
        "the Arbox sandbox over HTTP, Management path"
        if args.source == "arbox"
        else "in-memory source, pages of 500"
    )
    print(f"Arbox path: {described}, +{args.latency_ms:g} ms per request")
    enrich_sizes = {int(s) for s in args.enrich_sizes.split(",") if s}
    for size in (int(s) for s in args.sizes.split(",")):
        for enrich in (False, True) if size in enrich_sizes else (False,):
            name = unique_database_name("fitdata_bench")
            url = create_database(server_url, name)
            arbox = _start_arbox(size, args.latency_ms) if args.source == "arbox" else None
            try:
                upgrade(url)
                _seed_gym(url)
                for label in ("first import", "identical re-import"):
                    extra = ["--child-size", str(size), "--latency-ms", str(args.latency_ms)]
                    if enrich:
                        extra.append("--enrich")
                    if arbox is not None:
                        extra += ["--child-arbox-url", arbox.base_url]
                    r = _run_child(url, "arbox", *extra)
                    mode = "enrichment on " if enrich else "enrichment off"
                    print(
                        f"  {size:>7} members, {mode}, {label:<19}: {r['status']} in "
                        f"{r['seconds']:.1f} s ({size / r['seconds']:,.0f} rows/s), "
                        f"{r['messages']} queue messages, peak RSS {r['rss_mb']:.0f} MB, "
                        f"members {r['members']}"
                    )
            finally:
                if arbox is not None:
                    arbox.stop()
                drop_database(server_url, name)


def _csv_cases(args: argparse.Namespace, server_url: str) -> None:
    import statistics
    import tempfile

    from csv_reader import write_file
    from fitdata_adapters.db.migrate import upgrade
    from support.databases import create_database, drop_database, unique_database_name

    print(
        "CSV path: file on disk to completed job (upload, confirm with the suggested mapping, "
        "the engine's queue messages); ceiling: COPY + one INSERT … ON CONFLICT per table"
    )
    labels = ("first import", "identical re-import")
    for size in (int(s) for s in args.csv_sizes.split(",")):
        # Per label, each repeat's (engine seconds, ceiling seconds).
        times: dict[str, list[tuple[float, float]]] = {label: [] for label in labels}
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"members-{size}.csv"
            write_file(path, size)
            megabytes = path.stat().st_size / 1e6
            for repeat in range(args.csv_repeats):
                # A first import needs databases that never saw the file: a pair per repeat.
                names = [unique_database_name("fitdata_bench") for _ in range(2)]
                urls = [create_database(server_url, n) for n in names]
                try:
                    for url in urls:
                        upgrade(url)
                        _seed_gym(url, plan="Monthly")
                    for label in labels:
                        extra = ["--child-file", str(path)]
                        if args.profile and repeat == 0:
                            out = Path(args.profile) / f"csv-{size}-{label.split()[0]}.prof"
                            out.parent.mkdir(parents=True, exist_ok=True)
                            extra += ["--child-profile", str(out)]
                        r = _run_child(urls[0], "csv", *extra)
                        c = _run_child(urls[1], "ceiling", "--child-file", str(path))
                        times[label].append((r["seconds"], c["seconds"]))
                        engine_rate, ceiling_rate = size / r["seconds"], size / c["seconds"]
                        print(
                            f"  {size:>9,} rows ({megabytes:.0f} MB), {label:<19}: engine "
                            f"{r['status']} in {r['seconds']:.1f} s ({engine_rate:,.0f} rows/s; "
                            f"upload {r['upload_seconds']:.1f} s of it), {r['messages']} queue "
                            f"messages, peak RSS {r['rss_mb']:.0f} MB, rows written "
                            f"{r['written']:,}, members {r['members']}\n"
                            f"  {'':>9} {'':>{len(f'rows ({megabytes:.0f} MB), ')}}"
                            f"{'':<19}  ceiling {c['seconds']:.1f} s ({ceiling_rate:,.0f} "
                            f"rows/s), peak RSS {c['rss_mb']:.0f} MB, rows written "
                            f"{c['written']:,}; engine/ceiling {engine_rate / ceiling_rate:.2f}x"
                        )
                        if r["error"]:
                            print(f"    engine error: {r['error']}")
                finally:
                    for name in names:
                        drop_database(server_url, name)
        if args.csv_repeats > 1:
            for label in labels:
                engine = statistics.median(e for e, _ in times[label])
                ceiling = statistics.median(c for _, c in times[label])
                each = ", ".join(f"{x:.2f}" for x in sorted(c / e for e, c in times[label]))
                print(
                    f"  {size:>9,} rows, {label:<19}: medians of {args.csv_repeats}: engine "
                    f"{engine:.2f} s, ceiling {ceiling:.2f} s; engine/ceiling "
                    f"{ceiling / engine:.2f}x (each repeat: {each})"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a Postgres server (user may CREATE DATABASE)")
    parser.add_argument("--cases", default="arbox,csv", help="arbox, csv or both")
    parser.add_argument("--sizes", default="1500,100000", help="Arbox member counts")
    parser.add_argument(
        "--enrich-sizes", default="1500", help="Arbox sizes also run with enrichment"
    )
    parser.add_argument("--latency-ms", type=float, default=50.0, help="per source request")
    parser.add_argument(
        "--source",
        choices=("memory", "arbox"),
        default="memory",
        help="memory: an in-memory source; arbox: the Arbox sandbox over HTTP (Management path)",
    )
    parser.add_argument("--csv-sizes", default="100000,1000000", help="CSV file row counts")
    parser.add_argument(
        "--csv-repeats",
        type=int,
        default=1,
        help="CSV cases: runs of each (fresh databases each), then medians and their ratio",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="CSV cases: run the engine under cProfile, stats into DIR (slower; for breakdowns)",
    )
    parser.add_argument("--enrich", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-profile", help=argparse.SUPPRESS)
    parser.add_argument("--child-url", help=argparse.SUPPRESS)
    parser.add_argument("--child-kind", help=argparse.SUPPRESS)
    parser.add_argument("--child-file", help=argparse.SUPPRESS)
    parser.add_argument("--child-arbox-url", help=argparse.SUPPRESS)
    parser.add_argument("--child-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_url:
        _child(args)
        return

    from support.services import provision_postgres

    service = None
    server_url = args.database_url
    if server_url is None:
        service = provision_postgres()
        server_url = service.url
    cases = set(args.cases.split(","))
    print("fitdata import benchmark")
    try:
        if "arbox" in cases:
            _arbox_cases(args, server_url)
        if "csv" in cases:
            _csv_cases(args, server_url)
    finally:
        if service is not None:
            service.stop()


if __name__ == "__main__":
    main()
