"""Which callers get an HTML page instead of problem JSON."""

from __future__ import annotations

import pytest

from fitdata_http.pages import Page, prefers_html


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("application/xhtml+xml", True),
        ("application/json, text/html", False),
        ("application/problem+json", False),
        ("*/*", False),  # curl, httpx: scripts keep getting problem JSON
        ("", False),
        (None, False),
    ],
)
def test_prefers_html(accept: str | None, expected: bool) -> None:
    assert prefers_html(accept) is expected


def test_a_page_escapes_its_text() -> None:
    html = Page(state="expired", title="<b>x</b>", message="a & b", status_code=403).render()

    assert "<b>x</b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "a &amp; b" in html
