"""API benchmark: one ``fitdata serve`` on Postgres with a 10k-member gym, under load.

What it does, in one run (see bench/README.md):

1. creates a throwaway database ``fitdata_bench_<random>`` on the Postgres server of
   ``--database-url`` (default: the one the test suite finds), migrates it;
2. seeds the demo gym at ``--members`` (10,000; the demo seeding, ``seed_demo``: members
   through the use cases, then a year of payments, classes, bookings and workouts, then
   ``VACUUM (ANALYZE)``) and issues the owner's token;
3. starts ``fitdata serve`` as a process of its own on a loopback port ``--startup-rounds``
   times and measures each start until ``/readyz`` answers 200 (the last one stays up). The
   server runs from cached ``.pyc`` files, as an installed wheel does: a first, untimed start
   compiles them into a private cache folder. ``--from-source`` times starts that compile
   every module instead (an empty cache folder and ``PYTHONDONTWRITEBYTECODE=1``), as in this
   repository's development containers. Either way the setting is the bench's, not inherited
   from the shell: a shell with ``PYTHONDONTWRITEBYTECODE=1`` used to turn every start into a
   compile from source, 2-3x slower than a start of the installed service;
4. drives it with ``hey`` (``--load hey``, the default when ``hey`` is on PATH; install it
   with ``apt-get install hey``), as issue 12 measures, or with the bench's own asynchronous
   httpx client (``--load python``); each row bounded by ``--requests`` and ``--duration``
   seconds, loopback only. With hey a row is one ``hey -n N -c C -o csv`` and its figures
   come from the per-request CSV; one checked request before each row proves the URL answers
   a full page (hey sees status codes only). It prints ``hey``-style figures per row:
   requests/s, p50, p90, p99 (nearest rank), errors (any answer but 200, or none), the
   server's CPU per request and the load generator's:

   - ``GET /organizations/{org}/members?limit=50`` at concurrency ``--concurrency`` (50);
   - the same at ``offset`` 9,000 (90 % of the members with another ``--members``);
   - the same after the cursor of member 9,000 (``meta.nextCursor`` of the page that ends
     with it): keyset paging, which should cost what the first page does;
   - ``GET .../analytics/workouts-summary`` (the default range: 12 months to today), one
     request at a time, so its percentiles are the latency of one request;
   - ``fitdata serve`` until ``/readyz`` is 200 (seconds, min and median of the rounds, and
     the median CPU the server had used by then).

   uv run python bench/api.py                  # 10,000 members (seeding takes ~10 min)
   uv run python bench/api.py --quick          # 1,000 members, short rounds: proves it works
   uv run python bench/api.py --keep-database  # keep the seeded database, print its URL
   uv run python bench/api.py --use-database postgresql://postgres@127.0.0.1/fitdata_bench_x
   uv run python bench/api.py --use-database URL --compare main --rounds 3

With ``--compare REVISION`` each round runs the member rows against a server on REVISION's
``src`` (OLD, unpacked with ``git archive``, first on ``PYTHONPATH``) and then against this
checkout (NEW), alternating, and prints the medians per side, with the server's CPU per
request (user + system, from ``/proc``). OLD runs without httptools when REVISION's
``pyproject.toml`` lacks it, as that revision would (uvicorn then falls back to h11).

``--use-database`` runs against a database a previous ``--keep-database`` run seeded (the
seeding finds the demo gym and adds nothing), so the load can be repeated without the wait.
The load generator shares the machine with the server and Postgres: on a small machine it
takes CPU from them, so compare runs made side by side, not with other machines.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import math
import os
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the test suite's Postgres provisioning

LOOPBACK = "127.0.0.1"
SERVE = (sys.executable, "-m", "fitdata_adapters.cli", "serve")


@attrs.frozen
class Figures:
    """One row of the table: what was asked, and how it went."""

    work: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    latencies: tuple[float, ...]  # seconds, successful requests only
    server_cpu: float = 0.0  # seconds of the server process's CPU during the row
    client_cpu: float = 0.0  # seconds of the load generator's CPU during the row

    @property
    def cpu_ms(self) -> float:
        """Server CPU per request, ms."""
        return 1000 * self.server_cpu / self.requests if self.requests else float("nan")

    @property
    def client_cpu_ms(self) -> float:
        """The load generator's CPU per request, ms (it shares the cores with the server)."""
        return 1000 * self.client_cpu / self.requests if self.requests else float("nan")

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile latency in ms, by nearest rank: the smallest latency that
        ``p`` % of the successful requests do not exceed."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
        return ordered[rank] * 1000


# --- the load generator --------------------------------------------------------------------


async def load(
    client: httpx.AsyncClient,
    url: str,
    *,
    work: str,
    concurrency: int,
    requests: int,
    duration: float,
    check: Callable[[httpx.Response], bool],
) -> Figures:
    """``requests`` GETs of ``url`` by ``concurrency`` workers, stopping early after
    ``duration`` seconds; a response that fails ``check`` counts as an error."""
    latencies: list[float] = []
    errors = 0
    issued = 0
    reasons: dict[str, int] = {}
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal errors, issued
        while issued < requests and time.perf_counter() < deadline:
            issued += 1
            started = time.perf_counter()
            try:
                response = await client.get(url)
                ok = check(response)
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                ok = False
                reason = type(exc).__name__
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1
                reasons[reason] = reasons.get(reason, 0) + 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    if reasons:
        print(f"  {work}: {errors} failed: {reasons}")
    return Figures(
        work,
        concurrency,
        issued,
        errors,
        seconds,
        tuple(latencies),
        client_cpu=time.process_time() - cpu,
    )


def hey_load(
    url: str,
    headers: dict[str, str],
    *,
    work: str,
    concurrency: int,
    requests: int,
    duration: float,
) -> Figures:
    """``hey -n requests -c concurrency -o csv url`` (the load generator issue 12 measures
    with: a Go client, a fraction of the CPU per request of a Python one), stopped with
    SIGINT after ``duration`` seconds if it is still running (hey then lets its workers
    finish the request in flight and prints what it has). Figures from its per-request CSV:
    a line per answered request with its latency and status; a line that is not 200 is an
    error, and so is a request hey did not answer at all (a connection error has no line),
    counted as the requests asked for minus the lines when hey was not stopped early.

    hey gives each worker ``requests // concurrency`` requests, so the row asks for a
    multiple of ``concurrency``. Its CPU is read from ``RUSAGE_CHILDREN`` once it has been
    waited for (no other child of the bench ends during a row)."""
    requests = max(concurrency, requests - requests % concurrency)
    command = ["hey", "-n", str(requests), "-c", str(concurrency), "-t", "60", "-o", "csv"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile("w+") as out:  # a pipe nobody reads meanwhile could fill
        process = subprocess.Popen([*command, url], stdout=out, stderr=subprocess.PIPE)
        stopped = False
        try:
            process.wait(timeout=duration)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
            stopped = True
        _, stderr = process.communicate(timeout=120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if process.returncode != 0:
            raise SystemExit(f"hey exited with {process.returncode}: {stderr.decode()[-2000:]}")
        out.seek(0)
        lines = list(csv.DictReader(out))
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    end = 0.0
    for line in lines:
        latency, status = float(line["response-time"]), line["status-code"]
        end = max(end, float(line["offset"]) + latency)
        if status == "200":
            latencies.append(latency)
        else:
            statuses[f"HTTP {status}"] = statuses.get(f"HTTP {status}", 0) + 1
    issued = len(lines) if stopped else requests
    unanswered = issued - len(lines)
    if unanswered:
        statuses["no answer"] = unanswered
    errors = issued - len(latencies)
    if statuses:
        print(f"  {work}: {errors} failed: {statuses}")
    client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Figures(work, concurrency, issued, errors, end, tuple(latencies), client_cpu=client_cpu)


def _is_ok(response: httpx.Response) -> bool:
    return response.status_code == 200


def _members_page(expected: int) -> Callable[[httpx.Response], bool]:
    """A 200 whose page holds ``expected`` members: a fast empty page must not count."""

    def check(response: httpx.Response) -> bool:
        return response.status_code == 200 and len(response.json()["data"]) == expected

    return check


# --- the server ------------------------------------------------------------------------------


def _free_port() -> int:
    from support.services import free_port

    return free_port()


@attrs.frozen
class Start:
    """One start: wall seconds until ``/readyz`` answered 200, and the CPU seconds the server
    had used by then (steadier than wall time on a busy machine)."""

    wall: float
    cpu: float


def start_server(
    env: dict[str, str], port: int, log: Path, timeout: float = 120
) -> tuple[Any, Start]:
    """``fitdata serve`` on ``port`` (its stderr to ``log``: a pipe nobody reads could fill
    and stall it); returns the process and its :class:`Start` (``/readyz`` polled every
    20 ms)."""
    started = time.perf_counter()
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            [*SERVE, "--host", LOOPBACK, "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    url = f"http://{LOOPBACK}:{port}/readyz"
    with httpx.Client(timeout=2) as client:
        while time.perf_counter() - started < timeout:
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-4000:]
                raise SystemExit(f"fitdata serve exited with {process.returncode}:\n{tail}")
            try:
                if client.get(url).status_code == 200:
                    wall = time.perf_counter() - started
                    return process, Start(wall, cpu_seconds(process.pid))
            except httpx.TransportError:
                pass
            time.sleep(0.02)
    stop_server(process)
    raise SystemExit(f"fitdata serve did not become ready in {timeout:.0f} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def old_code(revision: str, into: Path) -> Path:
    """REVISION's ``src`` unpacked from git (nothing to clean up in the repository), plus a
    ``no-httptools`` folder whose ``httptools`` fails to import, which the OLD side puts
    first on its path when REVISION's dependencies lack httptools (:func:`has_httptools`)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "src"],
        check=True,
        capture_output=True,
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    blocker = into / "no-httptools" / "httptools"
    blocker.mkdir(parents=True, exist_ok=True)
    (blocker / "__init__.py").write_text('raise ImportError("not in this revision")\n')
    return into


def has_httptools(revision: str) -> bool:
    """Whether REVISION's ``pyproject.toml`` depends on httptools: a revision from before it
    would run on uvicorn's h11 parser, and one with it must not be measured without it."""
    pyproject = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:pyproject.toml"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return '"httptools' in pyproject


def stop_server(process: Any) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- seeding -----------------------------------------------------------------------------------


def _database(args: argparse.Namespace) -> tuple[str, Callable[[], None]]:
    """The database to use and how to clean up after it."""
    if args.use_database:
        return args.use_database, lambda: None
    from support.databases import create_database, drop_database, unique_database_name
    from support.services import provision_postgres

    service = None
    server_url = args.database_url
    if server_url is None:
        service = provision_postgres()
        server_url = service.url
    name = unique_database_name("fitdata_bench")
    url = create_database(server_url, name)

    def cleanup() -> None:
        if args.keep_database:
            print(f"\nkept the database: --use-database {url}")
        else:
            drop_database(server_url, name)
        if service is not None:
            service.stop()

    return url, cleanup


def seed(env: dict[str, str], members: int) -> tuple[str, str, int]:
    """The demo gym at ``members``: its id, the owner's token and its member count."""
    from fitdata_adapters.cli.admin import run_demo
    from fitdata_adapters.db.migrate import upgrade
    from fitdata_adapters.settings import Settings
    from fitdata_core.model.organizations import Role

    settings = Settings.from_env(env)
    upgrade(settings.database_url)
    result = asyncio.run(run_demo(settings, member_count=members))
    owner = next(i for i, login in enumerate(result.gym.logins) if login.role is Role.OWNER)
    listed = result.gym.member_count + 6  # the members plus the owner, the admin and 4 coaches
    return result.gym.org_id, result.tokens[owner], listed


# --- the run -----------------------------------------------------------------------------------


async def drive(
    base: str,
    org_id: str,
    token: str,
    listed: int,
    args: argparse.Namespace,
    *,
    pid: int,
    analytics: bool = True,
) -> list[Figures]:
    headers = {"Authorization": f"Bearer {token}"}
    # Idle connections are dropped after 2 s, before uvicorn's 5 s keep-alive timeout: with
    # both at 5 s, a request sent on a connection the server was closing at that moment
    # failed with ReadError, now and then, between rows.
    limits = httpx.Limits(
        max_connections=args.concurrency,
        max_keepalive_connections=args.concurrency,
        keepalive_expiry=2.0,
    )
    members = f"{base}/organizations/{org_id}/members?limit=50"
    # 9,000 of 10,007; 90 % of the list otherwise, and always a full page when there is one.
    offset = args.offset if args.offset is not None else int(listed * 0.9)
    offset = max(0, min(offset, listed - 50))
    deep = f"{members}&offset={offset}"
    summary = f"{base}/organizations/{org_id}/analytics/workouts-summary"
    rows = []
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:
        # The page after member ``offset``: the next cursor of the page that ends with it.
        before = (await client.get(f"{members}&offset={max(0, offset - 50)}")).raise_for_status()
        cursor = before.json()["meta"]["nextCursor"]
        # A gym of one page has no page after a member: no cursor row then.
        after = f"{members}&cursor={cursor}" if cursor is not None else None
        # Warm up: connections, the server's code paths, the database's caches.
        for url in (members, deep, *([after] if after else []), *([summary] if analytics else [])):
            for _ in range(3):
                (await client.get(url)).raise_for_status()

        async def row(
            work: str,
            url: str,
            check: Callable[[httpx.Response], bool],
            concurrency: int,
            requests: int,
        ) -> Figures:
            # hey sees status codes only: one checked request first proves that the URL
            # answers a real page (200 and the expected number of members).
            if args.load == "hey" and not check(await client.get(url)):
                raise SystemExit(f"{work}: the checked request before the row failed")
            cpu = cpu_seconds(pid)
            if args.load == "hey":
                figures = hey_load(
                    url,
                    headers,
                    work=work,
                    concurrency=concurrency,
                    requests=requests,
                    duration=args.duration,
                )
            else:
                figures = await load(
                    client,
                    url,
                    work=work,
                    concurrency=concurrency,
                    requests=requests,
                    duration=args.duration,
                    check=check,
                )
            return attrs.evolve(figures, server_cpu=cpu_seconds(pid) - cpu)

        member_rows = [
            ("GET members?limit=50", members),
            (f"GET members?limit=50&offset={offset:,}", deep),
        ]
        if after is not None:
            member_rows.append((f"GET members?limit=50 after member {offset:,}", after))
        for work, url in member_rows:
            expected = min(50, listed - (0 if url == members else offset))
            rows.append(
                await row(work, url, _members_page(expected), args.concurrency, args.requests)
            )
        if analytics:
            rows.append(
                await row(
                    "GET analytics/workouts-summary", summary, _is_ok, 1, args.analytics_requests
                )
            )
    return rows


def serve_env(env: dict[str, str], data_dir: Path, *, from_source: bool) -> dict[str, str]:
    """``env`` with the bytecode setting the bench chose (never the calling shell's)."""
    python = {"PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX"}
    chosen = {k: v for k, v in env.items() if k not in python}
    pycache = data_dir / ("pycache-empty" if from_source else "pycache")
    chosen["PYTHONPYCACHEPREFIX"] = str(pycache)  # Python reads .pyc files from here only
    if from_source:
        chosen["PYTHONDONTWRITEBYTECODE"] = "1"
    return chosen


_HEADER = (
    f"{'work':<42} {'conc':>4} {'reqs':>6} {'err':>4} {'req/s':>8} "
    f"{'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'CPU ms/req':>10} {'load CPU':>8}"
)


def print_table(rows: list[Figures], starts: list[Start], label: str = "") -> None:
    print()
    print(_HEADER)
    print("-" * len(_HEADER))
    for r in rows:
        print(
            f"{r.work:<42} {r.concurrency:>4} {r.requests:>6} {r.errors:>4} {r.rate:>8.1f} "
            f"{r.percentile(50):>8.1f} {r.percentile(90):>8.1f} {r.percentile(99):>8.1f} "
            f"{r.cpu_ms:>10.2f} {r.client_cpu_ms:>8.2f}"
        )
    if not starts:
        return
    startups = [s.wall for s in starts]
    shown = ", ".join(f"{s:.2f}" for s in startups)
    print(
        f"{'fitdata serve -> /readyz 200 ' + label:<42} {'':>4} {len(startups):>6} {'':>4} {'':>8} "
        f"{statistics.median(startups) * 1000:>8.0f}   (s per start: {shown}; "
        f"min {min(startups):.2f} s; CPU to ready, median "
        f"{statistics.median(s.cpu for s in starts):.2f} s)"
    )


def compare(
    env: dict[str, str],
    data_dir: Path,
    org_id: str,
    token: str,
    listed: int,
    args: argparse.Namespace,
) -> None:
    """The member rows against OLD (``--compare``) and NEW servers, alternating each round so
    a noisy minute on a shared machine hits both; medians per side."""
    code = old_code(args.compare, data_dir / "old")
    old_path = (
        [code / "src"] if has_httptools(args.compare) else [code / "no-httptools", code / "src"]
    )
    sides = {
        f"OLD ({args.compare})": {**env, "PYTHONPATH": os.pathsep.join(map(str, old_path))},
        "NEW (this checkout)": env,
    }
    runs: dict[str, list[list[Figures]]] = {side: [] for side in sides}
    for round_ in range(args.rounds):
        for side, side_env in sides.items():
            print(f"round {round_ + 1}: {side}, load average {os.getloadavg()[0]:.1f}")
            process, _ = start_server(side_env, _free_port(), data_dir / "serve.log")
            port = int(process.args[process.args.index("--port") + 1])
            try:
                base = f"http://{LOOPBACK}:{port}"
                rows = asyncio.run(
                    drive(base, org_id, token, listed, args, pid=process.pid, analytics=False)
                )
            finally:
                stop_server(process)
            print_table(rows, [])
            runs[side].append(rows)
    print(f"\nmedians of {args.rounds} round(s) per side:")
    print(_HEADER)
    print("-" * len(_HEADER))
    for side, side_runs in runs.items():
        print(side)
        for i, first in enumerate(side_runs[0]):
            same = [run[i] for run in side_runs]

            def median(values: list[float]) -> float:
                return statistics.median(values)

            print(
                f"  {first.work:<40} {first.concurrency:>4} "
                f"{median([r.requests for r in same]):>6.0f} "
                f"{median([r.errors for r in same]):>4.0f} {median([r.rate for r in same]):>8.1f} "
                f"{median([r.percentile(50) for r in same]):>8.1f} "
                f"{median([r.percentile(90) for r in same]):>8.1f} "
                f"{median([r.percentile(99) for r in same]):>8.1f} "
                f"{median([r.cpu_ms for r in same]):>10.2f} "
                f"{median([r.client_cpu_ms for r in same]):>8.2f}"
            )
    if any(r.errors for side_runs in runs.values() for run in side_runs for r in run):
        raise SystemExit("some requests failed (see the err column)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a Postgres server (user may CREATE DATABASE)")
    parser.add_argument("--use-database", help="an already seeded database (--keep-database)")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the database")
    parser.add_argument("--quick", action="store_true", help="1,000 members, short rounds")
    parser.add_argument("--members", type=int, help="demo members (default 10,000; quick 1,000)")
    parser.add_argument("--concurrency", type=int, default=50, help="member-list workers")
    parser.add_argument("--requests", type=int, help="requests per member-list row (max)")
    parser.add_argument("--analytics-requests", type=int, help="analytics requests (max)")
    parser.add_argument("--duration", type=float, help="seconds per row (max)")
    parser.add_argument("--offset", type=int, help="the deep page's offset (default 9,000)")
    parser.add_argument("--startup-rounds", type=int, help="serve starts timed (default 3)")
    parser.add_argument(
        "--from-source",
        action="store_true",
        help="time starts that compile every module (no .pyc), as development containers run",
    )
    parser.add_argument(
        "--compare", metavar="REVISION", help="member rows on REVISION (OLD) beside this (NEW)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="--compare rounds (medians)")
    parser.add_argument(
        "--load",
        choices=("hey", "python"),
        default="hey" if shutil.which("hey") else "python",
        help="load generator: hey (default when it is on PATH) or the bench's httpx client",
    )
    args = parser.parse_args()
    quick = args.quick
    args.members = args.members or (1_000 if quick else 10_000)
    args.requests = args.requests or (500 if quick else 5_000)
    args.analytics_requests = args.analytics_requests or (10 if quick else 50)
    args.duration = args.duration or (10.0 if quick else 30.0)
    args.startup_rounds = args.startup_rounds or (1 if quick else 3)
    if args.offset is None and args.members >= 10_000:
        args.offset = 9_000

    url, cleanup = _database(args)
    data_dir = Path(tempfile.mkdtemp(prefix="fitdata-bench-api-"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FITDATA_")},
        "FITDATA_MODE": "embedded",
        "FITDATA_DATABASE_URL": url,
        "FITDATA_DATA_DIR": str(data_dir),
        "FITDATA_JWT_SECRET": secrets.token_urlsafe(32),
        "FITDATA_LOG_LEVEL": "WARNING",
        "FITDATA_PUBLIC_URL": f"http://{LOOPBACK}",
    }
    process = None
    try:
        started = time.perf_counter()
        org_id, token, listed = seed(env, args.members)
        print(
            f"seeded the demo gym: {listed:,} people listed, a year of activity, "
            f"in {time.perf_counter() - started:.0f} s"
        )
        print(f"load generator: {args.load}" + (" (hey -o csv)" if args.load == "hey" else ""))
        serving = serve_env(env, data_dir, from_source=args.from_source)
        label = "(from source)" if args.from_source else "(.pyc cached)"
        if not args.from_source:
            port = _free_port()
            process, start = start_server(serving, port, data_dir / "serve.log")
            print(
                f"fitdata serve -> /readyz 200 in {start.wall:.2f} s, CPU {start.cpu:.2f} s "
                "(first start, writes .pyc)"
            )
            stop_server(process)
        if args.compare:
            compare(serving, data_dir, org_id, token, listed, args)
            return
        starts: list[Start] = []
        for round_ in range(args.startup_rounds):
            port = _free_port()
            process, start = start_server(serving, port, data_dir / "serve.log")
            starts.append(start)
            print(
                f"fitdata serve -> /readyz 200 in {start.wall:.2f} s, CPU {start.cpu:.2f} s {label}"
            )
            if round_ < args.startup_rounds - 1:
                stop_server(process)
        base = f"http://{LOOPBACK}:{port}"
        rows = asyncio.run(drive(base, org_id, token, listed, args, pid=process.pid))
        print_table(rows, starts, label)
        if any(r.errors for r in rows):
            raise SystemExit("some requests failed (see the err column)")
    finally:
        if process is not None:
            stop_server(process)
        cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
