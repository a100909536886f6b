"""Import-engine benchmark: members from an in-memory source into Postgres, on the real engine.

For each size (default 1,500 and 100,000 members) it creates a throwaway database, a gym, and
an in-memory member source serving pages of 500 with ``--latency-ms`` (50) per request, then
runs an import the way a worker does (each queued ``import_run`` message delivered to the
engine until none is left), once from scratch and once again with the same source (an
identical re-import, which must write nothing). Each import runs in a fresh subprocess so its
peak RSS is its own. It prints wall time, rows/s, the queue messages used and the peak RSS.

With ``--source arbox`` the members come from the project's Arbox sandbox over HTTP instead
(run in the parent process, ``--latency-ms`` per request, the generated gym of that size): the
child bootstraps with ``FITDATA_ARBOX_BASE_URL`` pointing at it and imports plans and members
on the Management path (login and both reports; plans, and with ``--enrich`` the per-member
details, from the Business API), as an owner's migration does.

    uv run python bench/import_engine.py
    uv run python bench/import_engine.py --source arbox --sizes 1500 --enrich
    uv run python bench/import_engine.py --sizes 1500,20000 --latency-ms 0
    uv run python bench/import_engine.py --database-url postgresql://postgres@127.0.0.1/postgres
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

    env = {
        "FITDATA_MODE": "embedded",
        "FITDATA_DATA_DIR": str(ROOT / "var" / "bench-imports"),
        "FITDATA_DATABASE_URL": database_url,
        "FITDATA_JWT_SECRET": "bench-imports-secret-long-enough-for-hs256",
    }
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


def _child(args: argparse.Namespace) -> None:
    result = asyncio.run(
        _one_import(
            args.child_url, args.child_size, args.latency_ms, args.enrich, args.child_arbox_url
        )
    )
    print(json.dumps(result))


def _run_child(
    url: str, size: int, latency_ms: float, enrich: bool, arbox_url: str | None = None
) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child-url",
        url,
        "--child-size",
        str(size),
        "--latency-ms",
        str(latency_ms),
    ]
    if enrich:
        command.append("--enrich")
    if arbox_url is not None:
        command += ["--child-arbox-url", arbox_url]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"import run failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _seed_gym(url: str) -> None:
    async def seed() -> None:
        from fitdata_adapters.db.engine import create_engine
        from fitdata_adapters.db.uow import SqlUnitOfWorkFactory
        from fitdata_adapters.memory.services import memory_services
        from support.imports import add_gym

        engine = create_engine(url)
        try:
            await add_gym(memory_services(uow=SqlUnitOfWorkFactory(engine)))
        finally:
            await engine.dispose()

    asyncio.run(seed())


def _start_arbox(size: int, latency_ms: float) -> Any:
    """The sandbox serving a generated gym of ``size`` members, in this (parent) process, so
    the import's peak RSS is the importer's own."""
    from fitdata_adapters.arbox_sandbox import SandboxConfig, SandboxThread

    return SandboxThread(SandboxConfig(members=size, latency_ms=latency_ms)).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a Postgres server (user may CREATE DATABASE)")
    parser.add_argument("--sizes", default="1500,100000", help="member counts, comma-separated")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="per source request")
    parser.add_argument("--enrich", action="store_true", help="also run the enrichment phase")
    parser.add_argument(
        "--source",
        choices=("memory", "arbox"),
        default="memory",
        help="memory: an in-memory source; arbox: the Arbox sandbox over HTTP (Management path)",
    )
    parser.add_argument("--child-url", help=argparse.SUPPRESS)
    parser.add_argument("--child-arbox-url", help=argparse.SUPPRESS)
    parser.add_argument("--child-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_url:
        _child(args)
        return

    from fitdata_adapters.db.migrate import upgrade
    from support.databases import create_database, drop_database, unique_database_name
    from support.services import provision_postgres

    service = None
    server_url = args.database_url
    if server_url is None:
        service = provision_postgres()
        server_url = service.url
    mode = "with enrichment" if args.enrich else "without enrichment"
    described = (
        "the Arbox sandbox over HTTP, Management path"
        if args.source == "arbox"
        else "in-memory source, pages of 500"
    )
    print(
        f"fitdata import-engine benchmark: {described}, +{args.latency_ms:g} ms per request, {mode}"
    )
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            name = unique_database_name("fitdata_bench")
            url = create_database(server_url, name)
            arbox = _start_arbox(size, args.latency_ms) if args.source == "arbox" else None
            try:
                upgrade(url)
                _seed_gym(url)
                for label in ("first import", "identical re-import"):
                    arbox_url = None if arbox is None else arbox.base_url
                    r = _run_child(url, size, args.latency_ms, args.enrich, arbox_url)
                    print(
                        f"  {size:>7} members, {label:<19}: {r['status']} in {r['seconds']:.1f} s "
                        f"({size / r['seconds']:,.0f} rows/s), {r['messages']} queue messages, "
                        f"peak RSS {r['rss_mb']:.0f} MB, members {r['members']}"
                    )
            finally:
                if arbox is not None:
                    arbox.stop()
                drop_database(server_url, name)
    finally:
        if service is not None:
            service.stop()


if __name__ == "__main__":
    main()
