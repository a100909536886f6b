"""What the source cites can be found in the repository: every QA-plan code (S4, RC2, ...)
is in docs/billing.md's table, and no module points at a file outside the checkout."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SOURCES = sorted((ROOT / "src").rglob("*.py"))
CODE = re.compile(r"\b(RC|S|W|R|C|T|P)([0-9]{1,2})\b")
TABLE_ROW = re.compile(r"^\| ((?:RC|S|W|R|C|T|P)[0-9]{1,2}) \|", re.MULTILINE)
# A path that climbs out of the checkout, or an absolute path to a shared folder.
OUTSIDE = re.compile(r"(\.\./|/work/|\bshared/(spec|reference)/)")


def test_every_cited_qa_code_is_in_the_billing_docs_table() -> None:
    table = set(TABLE_ROW.findall((ROOT / "docs" / "billing.md").read_text(encoding="utf-8")))
    cited = {
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in SOURCES
        for match in CODE.finditer(path.read_text(encoding="utf-8"))
    }

    assert len(table) >= 40
    assert sorted(c for c in cited if c.rsplit(": ", 1)[1] not in table) == []


def test_no_module_cites_a_file_outside_the_repository() -> None:
    outside = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in SOURCES
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]

    assert outside == []
