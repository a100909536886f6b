"""Benchmark: ``fitdata serve`` start-up, from the process starting to ``/readyz`` answering 200.

What it does, all in one run (see bench/README.md):

1. with ``--old REF`` (default: the merge base of ``HEAD`` and ``main``): checks that commit
   out as a throwaway ``git worktree`` and runs its ``src`` with this checkout's interpreter
   (``PYTHONPATH`` first), so old and new run on the same machine at the same moment;
2. for each code base: ``--starts`` times (default 5), starts ``python -m fitdata_adapters.cli
   serve`` on a free loopback port with a data directory that a first start already migrated
   (the everyday restart: nothing to migrate), polls ``/readyz`` every 10 ms and records the
   wall time to the first 200, then stops the server with SIGTERM; rounds alternate old and
   new so load on the machine hits both alike;
3. also times one first start on an empty data directory (creates and migrates the database);
   all of it twice: with ``.pyc`` files cached (as an installed wheel runs) and compiling
   every module from source on each start (``PYTHONDONTWRITEBYTECODE=1`` and no ``.pyc``
   files, as in this repository's development containers, where that alone is seconds);
4. prints per code base the median (and min/max) wall time and the CPU time the server had
   used when it first answered (CPU moves less than wall time on a busy machine), and the
   import time that ``python -X importtime`` reports for what ``serve`` loads at module level
   (the ``fitdata`` command, ``fitdata_http.cli`` and ``fitdata_http.serve``), measured once
   per round.

It runs in embedded mode (SQLite, local folders, in-process worker) unless ``--database-url``
names a Postgres server, in which case each code base gets its own throwaway database.

Usage::

    uv run python bench/startup.py
    uv run python bench/startup.py --starts 9 --old main
    uv run python bench/startup.py --no-old          # only this checkout
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent


@attrs.frozen
class CodeBase:
    label: str
    src: Path


@attrs.frozen
class Mode:
    """How Python finds compiled modules: ``bytecode`` writes and reuses ``.pyc`` files (in a
    private cache folder, as an installed wheel does), ``source`` compiles every module
    from source on every start (what ``PYTHONDONTWRITEBYTECODE=1`` without ``.pyc`` files
    does, as in this repository's development containers)."""

    name: str
    pycache: Path | None

    def env(self) -> dict[str, str]:
        if self.pycache is None:
            return {"PYTHONDONTWRITEBYTECODE": "1"}
        return {"PYTHONPYCACHEPREFIX": str(self.pycache)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


_PYTHON_VARIABLES = ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")


def _base_env(code: CodeBase, mode: Mode) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("FITDATA_") and key not in _PYTHON_VARIABLES
    }
    return env | mode.env() | {"PYTHONPATH": str(code.src)}


def _env(code: CodeBase, mode: Mode, data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = _base_env(code, mode)
    env |= {
        "FITDATA_DATA_DIR": str(data_dir),
        "FITDATA_LOG_LEVEL": "WARNING",
    }
    if database_url is not None:
        # Embedded in every other respect (in-process worker, local folders): a Postgres URL
        # alone would otherwise select production mode, which needs every real provider.
        env |= {"FITDATA_DATABASE_URL": database_url, "FITDATA_MODE": "embedded"}
    return env


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _cpu_seconds(pid: int) -> float:
    """User + system CPU the process used so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime are fields 14 and 15 of stat(5), i.e. 11 and 12 after the ")".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@attrs.frozen
class Start:
    wall: float
    cpu: float


def time_start(code: CodeBase, mode: Mode, data_dir: Path, database_url: str | None) -> Start:
    """Wall time from starting ``fitdata serve`` to its first ``/readyz`` 200, and the CPU
    time the server process had used by then (less sensitive to a busy machine)."""
    port = _free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "fitdata_adapters.cli", "serve", "--port", str(port)],
        env=_env(code, mode, data_dir, database_url),
        cwd=data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while not _ready(port):
            if process.poll() is not None:
                raise RuntimeError(
                    f"{code.label}: serve exited {process.returncode}: "
                    f"{process.stderr.read().decode() if process.stderr else ''}"
                )
            if time.perf_counter() - started > 120:
                raise RuntimeError(f"{code.label}: not ready after 120 s")
            time.sleep(0.01)
        return Start(time.perf_counter() - started, _cpu_seconds(process.pid))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def import_seconds(code: CodeBase, mode: Mode) -> float:
    """What ``python -X importtime`` says importing ``fitdata_http.serve`` (and the CLI
    plugin the command loads) takes, cumulatively, in seconds."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(code.src)}
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import fitdata_adapters.cli.app, fitdata_http.cli, fitdata_http.serve",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    total = 0
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        # Top-level entries (no indentation) add up to everything imported.
        if match and match.group(2) == " ":
            total += int(match.group(1))
    return total / 1e6


def _database(server_url: str | None, label: str) -> tuple[str | None, str | None]:
    """A throwaway database on ``server_url`` for one code base: (its URL, its name)."""
    if server_url is None:
        return None, None
    import psycopg

    name = f"fitdata_bench_startup_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}", name


def _drop(server_url: str | None, name: str | None) -> None:
    if server_url is None or name is None:
        return
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _old_worktree(ref: str, into: Path) -> CodeBase:
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "merge-base", "HEAD", ref],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(into), commit],
        capture_output=True,
        check=True,
    )
    return CodeBase(f"old ({commit[:8]})", into / "src")


def _summary(times: list[float]) -> str:
    return (
        f"median {statistics.median(times):5.2f} s  "
        f"(min {min(times):5.2f}, max {max(times):5.2f}, n={len(times)})"
    )


def _load() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load unknown"
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


def _run_mode(
    codes: list[CodeBase],
    mode: Mode,
    server_url: str | None,
    databases: list[str | None],
    tmp: Path,
    starts: int,
) -> None:
    """Time every code base in one mode: a first start on a new database (migrates, and in
    ``bytecode`` mode fills the cache), then ``starts`` restarts, rounds alternating between
    code bases. The throwaway databases' names go into ``databases`` for the caller to drop."""
    first: dict[str, Start] = {}
    data_dirs: dict[str, Path] = {}
    urls: dict[str, str | None] = {}
    for index, code in enumerate(codes):
        data_dirs[code.label] = tmp / f"data-{mode.name}-{index}"
        data_dirs[code.label].mkdir()
        urls[code.label], name = _database(server_url, f"{mode.name}_{index}")
        databases.append(name)
        first[code.label] = time_start(code, mode, data_dirs[code.label], urls[code.label])
    restarts: dict[str, list[Start]] = {code.label: [] for code in codes}
    imports: dict[str, list[float]] = {code.label: [] for code in codes}
    for _ in range(starts):
        for code in codes:
            restarts[code.label].append(
                time_start(code, mode, data_dirs[code.label], urls[code.label])
            )
            imports[code.label].append(import_seconds(code, mode))
    print(f"  with {mode.name}: {_MODE_NOTES[mode.name]}")
    for code in codes:
        runs = restarts[code.label]
        print(f"    {code.label}")
        print(
            f"      first start (migrates):  wall {first[code.label].wall:5.2f} s, "
            f"CPU {first[code.label].cpu:5.2f} s"
        )
        print(f"      restart, wall:           {_summary([r.wall for r in runs])}")
        print(f"      restart, CPU to ready:   {_summary([r.cpu for r in runs])}")
        print(f"      imports (-X importtime): {_summary(imports[code.label])}")


_MODE_NOTES = {
    "bytecode": ".pyc files cached (as an installed wheel runs)",
    "source": "no .pyc, every module compiled on every start (PYTHONDONTWRITEBYTECODE=1)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=5, help="restarts timed per code base")
    parser.add_argument("--old", default="main", help="compare with merge-base(HEAD, OLD)")
    parser.add_argument("--no-old", action="store_true", help="time only this checkout")
    parser.add_argument(
        "--database-url",
        default=None,
        help="a Postgres server URL (postgresql://user@host:port/db) instead of SQLite",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fitdata-bench-startup-") as tmp:
        codes = [CodeBase("new (this checkout)", ROOT / "src")]
        old_tree = Path(tmp) / "old"
        if not args.no_old:
            codes.insert(0, _old_worktree(args.old, old_tree))
        databases: list[str | None] = []
        modes = [Mode("bytecode", Path(tmp) / "pycache"), Mode("source", None)]
        try:
            backend = "Postgres" if args.database_url else "SQLite (embedded)"
            print(f"fitdata serve -> /readyz 200, {backend}, {os.cpu_count()} CPUs, {_load()}")
            for mode in modes:
                _run_mode(codes, mode, args.database_url, databases, Path(tmp), args.starts)
            print(f"  ({_load()} at the end)")
        finally:
            for name in databases:
                _drop(args.database_url, name)
            if old_tree.exists():
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old_tree)],
                    check=False,
                )


if __name__ == "__main__":
    main()
