"""Benchmark: the monthly renewal sweep against a slow Cardcom, at several concurrency levels.

What it does, all in one run (see bench/README.md):

1. creates a throwaway Postgres database (``fitdata_bench_<random>``) on the server given by
   ``--database-url`` and migrates it;
2. starts the Cardcom sandbox on a loopback socket with ``--latency-ms`` added to every token
   charge (``Transactions/Transaction``);
3. for each concurrency level: seeds ``--subscriptions`` due subscriptions whose sealed card
   tokens the sandbox knows, runs ``run_renewals`` once over all of them, and checks that every
   subscription was charged exactly once (the sandbox's charge list) and renewed;
4. runs concurrency 1 on a ``--serial-sample`` subset and extrapolates it to the full count
   (labelled as such): charging 10,000 cards one at a time at 100 ms would take 17 minutes;
5. with ``--processes 1,2``: runs each level also as that many sweeper processes side by
   side (each its own ``run_renewals`` over the same due rows, sharing them through the
   renewal claims), ``--repeats`` times, and reports the median charges/s per process count;
6. prints wall time, charges/s and the scaling against concurrency 1, then drops the database.

Usage::

    uv run python bench/renewals.py                       # local Postgres, 10,000 subs
    uv run python bench/renewals.py --subscriptions 2000 --levels 8,32
    uv run python bench/renewals.py --subscriptions 2500 --levels 32 --processes 1,2 --repeats 3
    uv run python bench/renewals.py --database-url postgresql://postgres@db:5432/postgres

The seeding writes rows and sandbox tokens directly (the checkout flow is not what is being
measured); the sweep itself is the production code path: SQL units of work on Postgres, the
real ``CardcomGateway`` over HTTP, sealed tokens opened per charge.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import attrs
import httpx
import psycopg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from fitdata_adapters.bootstrap import bootstrap
from fitdata_adapters.cardcom import CardcomGateway
from fitdata_adapters.cardcom_sandbox import TEST_CARD
from fitdata_adapters.crypto.keyring import KeyringCipher
from fitdata_adapters.db import tables as t
from fitdata_adapters.db.engine import create_engine, create_sync_engine
from fitdata_adapters.db.migrate import upgrade
from fitdata_adapters.db.uow import SqlUnitOfWorkFactory
from fitdata_adapters.logging import configure_logging
from fitdata_adapters.mail.memory import MemoryMailer
from fitdata_adapters.memory import MemoryErrorReporter, MemoryJobQueue
from fitdata_adapters.settings import Settings
from fitdata_core.money import Money
from fitdata_core.ports.providers import CheckoutRequest
from fitdata_core.usecases.billing import run_renewals
from fitdata_core.usecases.billing.common import card_context

DEFAULT_SERVER = os.environ.get(
    "FITDATA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TERMINAL = 1000
API_NAME = "fitdata-bench"
KEY_ID = "bench"


@attrs.frozen
class Result:
    concurrency: int
    subscriptions: int
    seconds: float
    renewed: int
    pool_size: int
    processes: int = 1
    #: Subscriptions each sweeper process renewed (one entry per process).
    shares: tuple[int, ...] = ()
    #: Summed over the sweeper processes: CPU seconds, SQL statements, transactions.
    cpu_seconds: float = 0.0
    statements: int = 0
    transactions: int = 0

    @property
    def cost(self) -> str:
        """CPU, statements and transactions per renewal, as the report prints them."""
        n = self.renewed or 1
        return (f"{1000 * self.cpu_seconds / n:.1f} ms CPU, {self.statements / n:.1f} "
                f"statements in {self.transactions / n:.2f} transactions per renewal")  # fmt: skip

    @property
    def rate(self) -> float:
        return self.subscriptions / self.seconds


@attrs.frozen
class SweepRun:
    """One ``run_renewals`` call in one process; times from ``time.time()`` so that runs in
    several processes can be laid side by side."""

    report: dict[str, Any]
    started: float
    ended: float
    errors: list[str]
    #: CPU seconds this process spent in the sweep (``time.process_time``), and the SQL
    #: statements and transactions it ran (counted by SQLAlchemy event listeners).
    cpu_seconds: float = 0.0
    statements: int = 0
    transactions: int = 0


class SqlCounter:
    """Counts the statements (one per ``execute``, an executemany counts once: one round
    trip) and transactions an engine runs, through SQLAlchemy's event listeners."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements = 0
        self.transactions = 0
        sync = engine.sync_engine
        sa.event.listen(sync, "before_cursor_execute", self._statement)
        sa.event.listen(sync, "begin", self._begin)

    def _statement(self, *_: object) -> None:
        self.statements += 1

    def _begin(self, *_: object) -> None:
        self.transactions += 1


# --- the throwaway database ------------------------------------------------------------------


def _admin(server_url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(server_url, autocommit=True)


def create_database(server_url: str) -> tuple[str, str]:
    name = f"fitdata_bench_{secrets.token_hex(4)}"
    with _admin(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return name, url


def drop_database(server_url: str, name: str) -> None:
    with _admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the Cardcom sandbox, in its own process ------------------------------------------------


class Sandbox:
    """``fitdata sandbox cardcom`` as a child process: Cardcom is another machine in real
    life, so it must not share this process's CPU (and GIL) with the sweep being measured."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "fitdata_adapters.cli", "sandbox", "cardcom",
                   "--port", str(self.port), "--api-name", API_NAME,
                   "--terminal-number", str(TERMINAL)]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # Generous: on a loaded machine its imports alone can take half a minute.
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{self.base_url}/_sandbox", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    sys.exit("the Cardcom sandbox did not start")
                time.sleep(0.1)

    def stop(self) -> None:
        # Holding thousands of pages, the sandbox can take over 10 s to exit on SIGTERM; the
        # runs are over by then, so it is killed rather than waited for (and the table printed).
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


async def make_tokens(base_url: str, count: int) -> list[str]:
    """``count`` card tokens, made the way Cardcom makes them: a hosted page paid with the
    test card (no added latency yet)."""
    gateway = CardcomGateway(
        base_url=base_url,
        terminal_number=TERMINAL,
        api_name=API_NAME,
        webhook_url="http://127.0.0.1:9/unused",  # nobody listens; deliveries just fail
        success_url="http://127.0.0.1:9/ok",
        failed_url="http://127.0.0.1:9/failed",
        timeout=60,  # a sandbox on a loaded machine can take its time; this is only setup
    )
    slots = asyncio.Semaphore(16)

    # Idle connections are dropped before the sandbox's server drops them (uvicorn: 5 s, the
    # same as httpx's default), so a loaded machine does not reuse one it is closing.
    limits = httpx.Limits(keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as control:

        async def one(number: int) -> str:
            async with slots:
                page = await gateway.create_checkout(
                    CheckoutRequest(str(number), Money(249), "fitdata Pro plan (benchmark)")
                )
                paid = await control.post(f"/_sandbox/low-profiles/{page.low_profile_id}/pay")
                paid.raise_for_status()
                return str(paid.json()["low_profile_result"]["TokenInfo"]["Token"])

        try:
            return await asyncio.gather(*(one(n) for n in range(count)))
        finally:
            await gateway.aclose()


# --- seeding the database --------------------------------------------------------------------


def seed(url: str, tokens: list[str], cipher: KeyringCipher) -> list[str]:
    """One pro organization per token whose subscription ended in the last day (fresh ids on
    every call, so each run's renewals have their own charge ids). Returns the subscription
    ids."""
    now = datetime.now(UTC)
    expiry_mmyy = f"12{(now.year + 2) % 100:02d}"
    orgs: list[dict[str, Any]] = []
    subs: list[dict[str, Any]] = []
    for number, token in enumerate(tokens):
        org_id, sub_id = str(uuid.uuid4()), str(uuid.uuid4())
        sealed = cipher.encrypt(token.encode(), context=card_context(org_id))
        period_end = now - timedelta(seconds=1 + number % 86_000)
        orgs.append({"id": org_id, "name": f"Bench gym {number}", "platform_tier": "pro",
                     "created_at": now - timedelta(days=40)})  # fmt: skip
        subs.append(
            {
                "id": sub_id,
                "organization_id": org_id,
                "tier": "pro",
                "status": "active",
                "created_at": now - timedelta(days=40),
                "current_period_start": period_end - timedelta(days=30),
                "current_period_end": period_end,
                "cancel_at_period_end": False,
                "failed_payment_count": 0,
                "cancel_reason": None,
                "cancelled_at": None,
                "last_charged_at": period_end - timedelta(days=30),
                "card_token_ciphertext": sealed.blob,
                "card_key_id": sealed.key_id,
                "card_expiry_mmyy": expiry_mmyy,
                "card_last4": TEST_CARD[-4:],
            }
        )
    engine = create_sync_engine(url)
    try:
        with engine.begin() as conn:
            for table in ("billing_events", "platform_billing_transactions",
                          "platform_subscriptions", "organizations"):  # fmt: skip
                conn.execute(sa.text(f"DELETE FROM {table}"))
            for start in range(0, len(tokens), 2000):
                conn.execute(t.organizations.insert(), orgs[start : start + 2000])
                conn.execute(t.platform_subscriptions.insert(), subs[start : start + 2000])
    finally:
        engine.dispose()
    return [s["id"] for s in subs]


# --- one sweep ---------------------------------------------------------------------------


def bench_settings(url: str, sandbox_url: str, keys: str, data_dir: Path) -> Settings:
    return Settings.from_env(
        {
            "FITDATA_DATA_DIR": str(data_dir),
            "FITDATA_MODE": "embedded",
            "FITDATA_DATABASE_URL": url,
            "FITDATA_JWT_SECRET": "bench-secret-bench-secret-bench-secret-00",
            "FITDATA_CARDCOM_BASE_URL": sandbox_url,
            "FITDATA_CARDCOM_TERMINAL_NUMBER": str(TERMINAL),
            "FITDATA_CARDCOM_API_NAME": API_NAME,
            "FITDATA_CREDENTIAL_KEYS": keys,
        }
    )


async def run_sweep(
    settings: Settings,
    *,
    concurrency: int,
    count: int,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> SweepRun:
    """Build a runtime as the worker does, wait for ``ready`` (the go signal when several
    processes start together), then time one sweep of at most ``count`` subscriptions."""
    # One connection per concurrent renewal, so the sweep waits on Cardcom, not on the pool.
    engine = create_engine(
        settings.database_url, pool_size=pool_size_for(concurrency), max_overflow=0
    )
    errors = MemoryErrorReporter()
    runtime = bootstrap(
        settings,
        uow=SqlUnitOfWorkFactory(engine),
        mailer=MemoryMailer(),
        errors=errors,
        queue=MemoryJobQueue(),
    )
    counter = SqlCounter(engine)
    try:
        if ready is not None:
            await ready()
        statements, transactions = counter.statements, counter.transactions
        started, cpu_started = time.time(), time.process_time()
        report = await run_renewals(runtime.services, limit=count, concurrency=concurrency)
        ended, cpu = time.time(), time.process_time() - cpu_started
    finally:
        await runtime.aclose()
        await engine.dispose()
    return SweepRun(
        report.as_dict(), started, ended, [str(r) for r in errors.reports[:3]], cpu,
        counter.statements - statements, counter.transactions - transactions,
    )  # fmt: skip


def pool_size_for(concurrency: int) -> int:
    return max(5, concurrency)


async def sweep(
    url: str, sandbox_url: str, keys: str, data_dir: Path, *, concurrency: int, count: int
) -> Result:
    settings = bench_settings(url, sandbox_url, keys, data_dir)
    run = await run_sweep(settings, concurrency=concurrency, count=count)
    if run.report["renewed"] != count or run.errors:
        sys.exit(f"concurrency {concurrency}: {run.report}; first errors {run.errors}")
    return Result(
        concurrency, count, run.ended - run.started, count, pool_size_for(concurrency),
        shares=(count,), cpu_seconds=run.cpu_seconds, statements=run.statements,
        transactions=run.transactions,
    )  # fmt: skip


# --- several sweeper processes side by side ------------------------------------------------

#: Set in a sweeper child's environment: JSON with what to sweep (the keys travel in
#: ``FITDATA_CREDENTIAL_KEYS``, never on a command line).
SWEEPER_ENV = "FITDATA_BENCH_SWEEPER"


def sweeper_child() -> None:
    """A sweeper process: build the runtime, say ``ready``, wait for ``go`` on stdin, sweep,
    print the run as one JSON line."""
    job = json.loads(os.environ[SWEEPER_ENV])
    settings = bench_settings(
        job["url"], job["sandbox_url"], os.environ["FITDATA_CREDENTIAL_KEYS"], Path(job["data_dir"])
    )
    # Quieter than the parent: several children's retry warnings would bury the figures.
    configure_logging("ERROR")

    async def ready() -> None:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    run = asyncio.run(
        run_sweep(settings, concurrency=job["concurrency"], count=job["count"], ready=ready)
    )
    print(json.dumps(attrs.asdict(run)), flush=True)


def sweep_processes(
    url: str, sandbox_url: str, keys: str, data_dir: Path, *, processes: int, concurrency: int,
    count: int, code: Path | None = None,
) -> Result:  # fmt: skip
    """``processes`` sweepers, each a separate Python process with its own pool and gateway,
    started together over the same ``count`` due subscriptions (each may take all of them:
    the claims decide who renews what). Wall time: first start to last end. With ``code`` (a
    ``src`` folder of another commit, see ``--compare``) the sweepers import fitdata from
    there instead of from this checkout."""
    job = {"url": url, "sandbox_url": sandbox_url, "data_dir": str(data_dir),
           "concurrency": concurrency, "count": count}  # fmt: skip
    env = {**os.environ, SWEEPER_ENV: json.dumps(job), "FITDATA_CREDENTIAL_KEYS": keys}
    if code is not None:
        # PYTHONPATH comes before site-packages, so it wins over this checkout's install.
        env["PYTHONPATH"] = str(code)
    children = [
        subprocess.Popen(
            [sys.executable, __file__],
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    try:
        for child in children:  # every runtime built before anyone starts
            assert child.stdout is not None
            if child.stdout.readline().strip() != "ready":
                sys.exit("a sweeper process did not start")
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        runs = []
        for child in children:
            out, _ = child.communicate(timeout=3600)
            if child.returncode != 0:
                sys.exit(f"a sweeper process failed (exit {child.returncode})")
            runs.append(SweepRun(**json.loads(out.strip().splitlines()[-1])))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    shares = tuple(run.report["renewed"] for run in runs)
    problems = [(run.report, run.errors) for run in runs if run.errors or run.report["errors"]]
    if sum(shares) != count or problems:
        sys.exit(f"{processes} processes at concurrency {concurrency}: shares {shares}; {problems}")
    seconds = max(run.ended for run in runs) - min(run.started for run in runs)
    return Result(
        concurrency, count, seconds, count, pool_size_for(concurrency), processes, shares,
        cpu_seconds=sum(run.cpu_seconds for run in runs),
        statements=sum(run.statements for run in runs),
        transactions=sum(run.transactions for run in runs),
    )  # fmt: skip


def old_code(revision: str, into: Path) -> Path:
    """The ``src`` folder of ``revision``, unpacked from git (no worktree, nothing to clean up
    in the repository), for the OLD column of ``--compare``."""
    repo = Path(__file__).resolve().parent.parent
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", revision, "src"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def compare(
    url: str, sandbox_url: str, keys: str, data_dir: Path, control: httpx.Client,
    tokens: list[str], cipher: KeyringCipher, *, revision: str, concurrency: int, rounds: int,
) -> None:  # fmt: skip
    """OLD (``revision``) and NEW (this checkout) side by side on the same database, sandbox
    and subscriptions: each round runs one sweeper process of each, alternating, so a noisy
    minute on a shared machine hits both; the table shows the medians per side."""
    code = old_code(revision, data_dir / "old")
    sides: dict[str, list[Result]] = {"OLD": [], "NEW": []}
    for _ in range(rounds):
        for side, source in (("OLD", code), ("NEW", None)):
            sub_ids = seed(url, tokens, cipher)
            before = charge_count(control)
            result = sweep_processes(
                url, sandbox_url, keys, data_dir, processes=1, concurrency=concurrency,
                count=len(tokens), code=source,
            )  # fmt: skip
            verify_charged_once(control, sub_ids, url, charges_before=before)
            sides[side].append(result)
            print(f"  {side} ({revision if source else 'this checkout'}): {result.cost}; "
                  f"{result.rate:.1f} charges/s, each charged exactly once")  # fmt: skip
    print()
    print(f"{len(tokens)} renewals at concurrency {concurrency}, medians of {rounds} round(s)")
    print(f"{'':>4} | {'CPU ms/renewal':>14} | {'statements/renewal':>18} | "
          f"{'transactions/renewal':>20} | {'charges/s':>9}")  # fmt: skip
    print("-" * 80)
    for side, results in sides.items():
        n = len(tokens)
        cpu = statistics.median(1000 * r.cpu_seconds / n for r in results)
        statements = statistics.median(r.statements / n for r in results)
        transactions = statistics.median(r.transactions / n for r in results)
        rate = statistics.median(r.rate for r in results)
        print(f"{side:>4} | {cpu:>14.1f} | {statements:>18.1f} | {transactions:>20.2f} | "
              f"{rate:>9.1f}")  # fmt: skip


def charge_count(control: httpx.Client) -> int:
    return len(control.get("/_sandbox/charges").json()["charges"])


def verify_charged_once(
    control: httpx.Client, sub_ids: list[str], url: str, *, charges_before: int
) -> None:
    """Every subscription charged exactly once (sandbox) and renewed once (database)."""
    charges = control.get("/_sandbox/charges").json()["charges"][charges_before:]
    token_deals = [c for c in charges if c["Source"] == "token"]
    per_sub = Counter(str(c["ExternalUniqTranId"]).rsplit("-", 2)[0] for c in token_deals)
    expected = {f"renew-{sub_id}" for sub_id in sub_ids}
    if (
        len(token_deals) != len(sub_ids)
        or not all(c["Charged"] for c in token_deals)
        or set(per_sub) != expected
        or set(per_sub.values()) != {1}
    ):
        sys.exit(f"charge check failed: {len(token_deals)} deals for {len(sub_ids)} subscriptions")
    engine = create_sync_engine(url)
    try:
        with engine.connect() as conn:
            renewed = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM platform_billing_transactions "
                    "WHERE kind = 'renewal' AND status = 'completed'"
                )
            )
            still_due = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM platform_subscriptions WHERE current_period_end <= now()"
                )
            )
    finally:
        engine.dispose()
    if renewed != len(sub_ids) or still_due != 0:
        sys.exit(f"database check failed: {renewed} completed renewals, {still_due} still due")


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    if SWEEPER_ENV in os.environ:
        sweeper_child()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_SERVER,
        help="A Postgres server URL (a user that may CREATE DATABASE).",
    )
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--levels", default="8,32,64", help="Concurrency levels to measure.")
    parser.add_argument("--serial-sample", type=int, default=100,
                        help="Subscriptions for the concurrency-1 run (extrapolated).")  # fmt: skip
    parser.add_argument("--processes", default="1",
                        help="Sweeper process counts to run each level with: 1,2")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=1,
                        help="Runs per level and process count (medians reported).")  # fmt: skip
    parser.add_argument("--compare", metavar="REVISION",
                        help="Only compare CPU, statements and transactions per renewal of "
                             "REVISION (OLD) and this checkout (NEW) side by side.")  # fmt: skip
    parser.add_argument("--compare-concurrency", type=int, default=32)
    parser.add_argument("--compare-rounds", type=int, default=3)
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    process_counts = [int(count) for count in args.processes.split(",")]
    keys = KeyringCipher.generate_spec(KEY_ID)
    cipher = KeyringCipher.from_spec(keys)

    configure_logging("WARNING")
    name, url = create_database(args.database_url)
    sandbox = Sandbox()
    results: list[Result] = []
    try:
        with (
            httpx.Client(base_url=sandbox.base_url, timeout=120) as control,
            TemporaryDirectory() as tmp,
        ):
            print(
                f"fitdata renewal benchmark: {args.subscriptions} due subscriptions, Cardcom "
                f"token charge latency +{args.latency_ms:g} ms, Postgres database {name}"
            )
            started = time.perf_counter()
            tokens = asyncio.run(make_tokens(sandbox.base_url, args.subscriptions))
            print(f"  made {len(tokens)} card tokens on the sandbox through hosted pages "
                  f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
            control.put(
                "/_sandbox/latency",
                json={"endpoint": "Transactions/Transaction", "ms": args.latency_ms},
            ).raise_for_status()
            if args.compare:
                compare(
                    url, sandbox.base_url, keys, Path(tmp), control, tokens, cipher,
                    revision=args.compare, concurrency=args.compare_concurrency,
                    rounds=args.compare_rounds,
                )  # fmt: skip
                return
            # Repeats go round the whole plan, so a noisy minute does not hit one setting only.
            runs = [(1, 1, args.serial_sample)] + [
                (level, processes, args.subscriptions)
                for _ in range(args.repeats)
                for level in levels
                for processes in process_counts
            ]
            for concurrency, processes, count in runs:
                sub_ids = seed(url, tokens[:count], cipher)
                before = charge_count(control)
                if processes == 1:
                    result = asyncio.run(
                        sweep(url, sandbox.base_url, keys, Path(tmp), concurrency=concurrency,
                              count=count)
                    )  # fmt: skip
                else:
                    result = sweep_processes(
                        url, sandbox.base_url, keys, Path(tmp), processes=processes,
                        concurrency=concurrency, count=count,
                    )  # fmt: skip
                verify_charged_once(control, sub_ids, url, charges_before=before)
                results.append(result)
                how = "" if processes == 1 else f" x {processes} processes"
                shares = "" if processes == 1 else f"; shares {'/'.join(map(str, result.shares))}"
                print(f"  concurrency {concurrency:>3}{how}: {count} renewed in "
                      f"{result.seconds:.1f} s ({result.rate:.1f} charges/s{shares}), "
                      f"each charged exactly once; {result.cost}")  # fmt: skip
    finally:
        sandbox.stop()
        drop_database(args.database_url, name)
    report(results, args.subscriptions, args.latency_ms)
    if any(count > 1 for count in process_counts):
        report_processes(results[1:], levels, process_counts)


def _median_run(results: list[Result]) -> Result:
    """The run with the median rate (the lower middle one of an even count)."""
    rate = statistics.median_low(result.rate for result in results)
    return next(result for result in results if result.rate == rate)


def report(results: list[Result], total: int, latency_ms: float) -> None:
    serial = results[0]
    single = [r for r in results[1:] if r.processes == 1]
    per_level = [
        _median_run([r for r in single if r.concurrency == level])
        for level in dict.fromkeys(r.concurrency for r in single)
    ]
    print()
    print(f"{'concurrency':>11} | {'subs':>6} | {'wall time (s)':>16} | {'charges/s':>9} | "
          f"{'vs concurrency 1':>16} | {'ideal':>5}")  # fmt: skip
    print("-" * 80)
    extrapolated = total / serial.rate
    print(f"{1:>11} | {total:>6} | {extrapolated:>12.0f} (*) | {serial.rate:>9.1f} | "
          f"{1.0:>15.1f}x | {1:>4}x")  # fmt: skip
    for result in per_level:
        print(f"{result.concurrency:>11} | {result.subscriptions:>6} | {result.seconds:>16.1f} | "
              f"{result.rate:>9.1f} | {result.rate / serial.rate:>15.1f}x | "
              f"{result.concurrency:>4}x")  # fmt: skip
    print(f"(*) extrapolated from {serial.subscriptions} subscriptions renewed one at a time "
          f"({serial.seconds:.1f} s); the floor at {latency_ms:g} ms per charge is "
          f"{total * latency_ms / 1000:.0f} s.")  # fmt: skip
    if len(single) > len(per_level):
        print("(one process; rows with several runs show the run with the median rate)")
    for a, b in itertools.pairwise(per_level):
        print(f"scaling {a.concurrency} -> {b.concurrency}: {b.rate / a.rate:.2f}x charges/s "
              f"for {b.concurrency / a.concurrency:.0f}x concurrency")  # fmt: skip
    print(f"Postgres pool per sweeper process: one connection per concurrent renewal "
          f"(pool_size={', '.join(str(r.pool_size) for r in [serial, *per_level])}).")  # fmt: skip


def report_processes(results: list[Result], levels: list[int], process_counts: list[int]) -> None:
    """Charges/s per number of sweeper processes side by side: medians and every run."""
    print()
    print(f"{'concurrency':>11} | {'processes':>9} | {'median charges/s':>16} | "
          f"{'vs 1 process':>12} | runs (charges/s)")  # fmt: skip
    print("-" * 80)
    for level in levels:
        base: float | None = None
        for processes in process_counts:
            runs = [r for r in results if r.concurrency == level and r.processes == processes]
            median = statistics.median_low(r.rate for r in runs)
            base = base or median
            every = ", ".join(f"{r.rate:.1f}" for r in runs)
            print(f"{level:>11} | {processes:>9} | {median:>16.1f} | "
                  f"{median / base:>11.2f}x | {every}")  # fmt: skip


if __name__ == "__main__":
    main()
