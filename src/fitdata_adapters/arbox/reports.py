"""The two Management reports, merged without holding them in memory.

Each report is one bare JSON array of every member of its kind, with no paging
(``arbox-protocol.md``). Read whole and merged in memory, 100,000 members cost well over
100 MB of Python objects before the first row is staged. So each answer is streamed to a file
of a temporary directory as it arrives (both reports still download concurrently), then the
files are read one row at a time into a temporary SQLite table keyed by ``user_fk`` (active
report first, ``INSERT OR IGNORE``: the first row of an id wins, so active wins and keeps its
status), and handed out in chunks in that order. What stays in memory is one chunk.

The merge is the same as :func:`~fitdata_adapters.arbox.wire.merge_reports`: report order,
active first; a row without an id is kept apart under a key no id can take, so the engine
reports it. The SQLite calls block, so the source runs them in a worker thread.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import attrs

from fitdata_adapters.arbox import wire
from fitdata_core.ports.providers import SourceMember

ACTIVE = "active"
INACTIVE = "inactive"
_READ_SIZE = 64 * 1024


def _decoder() -> json.JSONDecoder:
    return json.JSONDecoder(parse_float=Decimal)


def iter_json_array(stream: IO[str], *, read_size: int = _READ_SIZE) -> Iterator[tuple[Any, str]]:
    """The elements of the JSON array in ``stream``, one at a time, each with its own text.

    Reads ``read_size`` characters at a time, so memory is one element plus one read. An
    object whose ``data`` is the array (an enveloped answer) is read whole instead: the
    protocol's reports are bare arrays, so that is the rare case. Raises ``WireError`` for
    anything that is not a JSON array.
    """
    decoder = _decoder()
    buffer = ""
    pos = 0
    eof = False

    def more() -> bool:
        nonlocal buffer, pos, eof
        if eof:
            return False
        block = stream.read(read_size)
        if not block:
            eof = True
            return False
        buffer = buffer[pos:] + block
        pos = 0
        return True

    def skip_space() -> bool:
        """Move past whitespace; False at the end of the text."""
        nonlocal pos
        while True:
            while pos < len(buffer) and buffer[pos] in " \t\r\n":
                pos += 1
            if pos < len(buffer):
                return True
            if not more():
                return False

    if not skip_space():
        raise wire.WireError("a report answer is empty")
    if buffer[pos] == "{":
        rest = buffer[pos:] + stream.read()
        try:
            body = decoder.decode(rest)
        except ValueError as exc:
            raise wire.WireError(f"a report answer is not JSON ({exc})") from exc
        for item in wire.read_report(body):
            yield item, json.dumps(item, default=str)
        return
    if buffer[pos] != "[":
        raise wire.WireError("a report answer is not a JSON array")
    pos += 1
    if not skip_space():
        raise wire.WireError("a report answer ends inside its array")
    if buffer[pos] == "]":
        return
    while True:
        while True:
            try:
                item, end = decoder.raw_decode(buffer, pos)
            except ValueError as exc:
                if more():
                    continue
                raise wire.WireError(f"a report answer is not valid JSON ({exc})") from exc
            # A number that ends the buffer may go on in the next read: read on to be sure.
            if end == len(buffer) and more():
                continue
            break
        text = buffer[pos:end]
        pos = end
        yield item, text
        if not skip_space():
            raise wire.WireError("a report answer ends inside its array")
        if buffer[pos] == "]":
            return
        if buffer[pos] != ",":
            raise wire.WireError(f"a report answer has {buffer[pos]!r} between two rows")
        pos += 1
        if not skip_space():
            raise wire.WireError("a report answer ends inside its array")


@attrs.frozen
class MergeCounts:
    """Rows read from each report and the members they merged into."""

    active_rows: int
    inactive_rows: int
    members: int


class ReportSpool:
    """A temporary directory holding both report answers and, once merged, their members.

    :meth:`file` opens the file a report's answer streams into; :meth:`merge` reads both into
    the keyed table; :meth:`read` hands out members after a position. :meth:`close` removes
    everything (the directory's finaliser does too, should a listing be abandoned).
    """

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="fitdata-arbox-reports-")
        self._db: sqlite3.Connection | None = None

    def path(self, report: str) -> Path:
        return Path(self._dir.name) / f"{report}.json"

    def file(self, report: str) -> IO[bytes]:
        """The (truncated) file ``report``'s answer is written to."""
        return self.path(report).open("w+b")

    def merge(self) -> MergeCounts:
        """Read both report files into the keyed table (blocking: run it in a thread)."""
        db = sqlite3.connect(Path(self._dir.name) / "members.sqlite3", check_same_thread=False)
        self._db = db
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("CREATE TABLE members (key TEXT PRIMARY KEY, active INTEGER, row TEXT)")
        rows = {ACTIVE: 0, INACTIVE: 0}
        for report, active in ((ACTIVE, 1), (INACTIVE, 0)):
            with self.path(report).open(encoding="utf-8") as stream:
                batch: list[tuple[str, int, str]] = []
                try:
                    for item, text in iter_json_array(stream):
                        if not isinstance(item, dict):
                            continue  # not a row (``wire.rows`` drops these too)
                        index = rows[report]
                        rows[report] += 1
                        key = wire.identifier(item, wire.REPORT_USER_ID) or f"\x00{active}:{index}"
                        batch.append((key, active, text))
                        if len(batch) >= 1000:
                            db.executemany("INSERT OR IGNORE INTO members VALUES (?, ?, ?)", batch)
                            batch.clear()
                except UnicodeDecodeError as exc:
                    raise wire.WireError(f"the {report} report is not UTF-8 text") from exc
                except wire.WireError as exc:
                    raise wire.WireError(f"the {report} report: {exc}") from exc
                db.executemany("INSERT OR IGNORE INTO members VALUES (?, ?, ?)", batch)
        db.commit()
        self.path(ACTIVE).unlink()
        self.path(INACTIVE).unlink()
        (members,) = db.execute("SELECT count(*) FROM members").fetchone()
        return MergeCounts(rows[ACTIVE], rows[INACTIVE], int(members))

    def read(self, after: int, limit: int) -> tuple[list[SourceMember], int]:
        """Up to ``limit`` merged members after position ``after``, and the position reached
        (blocking: run it in a thread)."""
        assert self._db is not None, "merge() first"
        found = self._db.execute(
            "SELECT rowid, active, row FROM members WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (after, limit),
        ).fetchall()
        decoder = _decoder()
        members = [
            wire.read_report_member(decoder.decode(row), active=bool(active))
            for _, active, row in found
        ]
        return members, (found[-1][0] if found else after)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._dir.cleanup()


__all__ = ["ACTIVE", "INACTIVE", "MergeCounts", "ReportSpool", "iter_json_array"]
