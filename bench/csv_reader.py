"""CSV reading benchmark: a member file streamed through the reader into mapped records.

No database: this measures the part of a CSV import that is ours alone (encoding and
delimiter detection, row parsing, header cleanup, the analysis pass, mapping, phone and date
fixes), so the import engine's figures can be read against it. For each size it writes a
member file the way a gym's Excel does (UTF-8 with BOM, Hebrew and English names, phones that
lost their leading zero, dd/mm/yyyy birthdays, 1% bad rows), then in a fresh subprocess runs
:func:`~fitdata_adapters.csv_import.import_records` (analysis pass + record pass) and reports
rows/s for each pass and for both, the CPU time of both (the honest figure on a machine
shared with other work), and the process's peak RSS growth.

    uv run python bench/csv_reader.py                     # 100,000 and 1,000,000 rows
    uv run python bench/csv_reader.py --sizes 100000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

FIRST = ("דנה", "יוסי", "מיכל", "Noa", "Avi", "שירה", "Daniel", "אורי")
LAST = ("לוי", "כהן", "Mizrahi", "אברהם", "Peretz", "ביטון")


def write_file(path: Path, rows: int) -> None:
    """A member file of ``rows`` rows; every 100th has an unusable phone or birthday."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write("Email,First name,Last name,Phone,Birthday,Plan,City\r\n")
        for i in range(rows):
            phone = f"5{i % 100_000_000:08d}"  # Excel dropped the leading zero
            born = f"{i % 28 + 1:02d}/{i % 12 + 1:02d}/{1960 + i % 45}"
            if i % 100 == 7:
                phone = "5.21E+08"  # scientific notation: the row fails
            elif i % 100 == 57:
                born = "31/02/1990"
            first, last = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
            out.write(f"member{i}@example.com,{first},{last},{phone},{born},Monthly,תל אביב\r\n")


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_once(path: str) -> dict[str, float]:
    """One analysis pass and one record pass over ``path`` (run in a fresh process)."""
    from fitdata_adapters.csv_import import analyse, read_records

    before = _rss_kib()
    cpu_started = time.process_time()
    started = time.perf_counter()
    analysis = analyse(path, today=date(2026, 12, 2))
    analysed = time.perf_counter()
    mapping = analysis.suggested
    stream = read_records(
        path, mapping, orders=analysis.orders_for(mapping), today=date(2026, 12, 2)
    )
    good = bad = 0
    for record in stream:
        if record.ok:
            good += 1
        else:
            bad += 1
    finished = time.perf_counter()
    cpu = time.process_time() - cpu_started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert good + bad == analysis.total_rows
    return {
        "rows": analysis.total_rows,
        "bad": bad,
        "fixes": stream.tally.total,
        "analyse_s": analysed - started,
        "records_s": finished - analysed,
        "total_s": finished - started,
        "cpu_s": cpu,
        "rss_growth_mib": (peak - before) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_once(args.child)))
        return
    print("fitdata CSV reader benchmark (no database): file → analysis pass → mapped records")
    with tempfile.TemporaryDirectory() as folder:
        for size in (int(s) for s in args.sizes.split(",")):
            path = Path(folder) / f"members-{size}.csv"
            write_file(path, size)
            runs = []
            for _ in range(args.repeats):
                output = subprocess.run(
                    [sys.executable, __file__, "--child", str(path)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                runs.append(json.loads(output))
            total = statistics.median(r["total_s"] for r in runs)
            analyse_s = statistics.median(r["analyse_s"] for r in runs)
            records_s = statistics.median(r["records_s"] for r in runs)
            cpu = statistics.median(r["cpu_s"] for r in runs)
            rss = max(r["rss_growth_mib"] for r in runs)
            first = runs[0]
            print(
                f"  {size:>9,} rows ({path.stat().st_size / 1e6:.0f} MB, {first['bad']:,} bad,"
                f" {first['fixes']:,} fixes): analysis {size / analyse_s:,.0f} rows/s,"
                f" records {size / records_s:,.0f} rows/s, both passes {total:.1f} s"
                f" ({size / total:,.0f} rows/s; {cpu:.1f} s of CPU, {size / cpu:,.0f} rows per"
                f" CPU second); peak RSS growth {max(rss, 0.0):.1f} MiB"
            )


if __name__ == "__main__":
    main()
