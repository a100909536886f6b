"""Small HTML pages for the few routes a person's browser opens directly.

The Cardcom return page and signed download links are opened by people, not API clients: a
browser should get a readable page, not problem JSON. One style for all of them.
"""

from __future__ import annotations

from html import escape

import attrs
from litestar import Response
from litestar.enums import MediaType

__all__ = ["REFRESH_SECONDS", "Page", "prefers_html"]

# A page that is waiting on something reloads itself this often (seconds).
REFRESH_SECONDS = 5


def prefers_html(accept: str | None) -> bool:
    """Whether an ``Accept`` header is a browser's (it asks for text/html before JSON)."""
    if not accept:
        return False
    for part in accept.split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media in ("text/html", "application/xhtml+xml"):
            return True
        if media in ("application/json", "application/problem+json"):
            return False
    return False


_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#f3f5f8;margin:0;padding:2rem;"
    "color:#1d2430}main{max-width:30rem;margin:auto;background:#fff;border-radius:12px;"
    "padding:1.5rem 2rem;box-shadow:0 2px 12px rgba(0,0,0,.08)}"
    ".ok{color:#1a7f37}.wait{color:#9a6700}.bad{color:#b42318}"
)


@attrs.frozen
class Page:
    """A one-message page: a machine-readable ``state`` (also in ``data-state``) and text."""

    state: str  # active | pending | failed | cancelled | unknown | unavailable | invalid | expired
    title: str
    message: str
    status_code: int = 200
    refresh: bool = False

    def render(self) -> str:
        css = {"active": "ok", "pending": "wait", "unavailable": "wait"}.get(self.state, "bad")
        refresh = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if self.refresh else ""
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"{refresh}<title>{escape(self.title)}</title><style>{_STYLE}</style></head>"
            f'<body><main data-state="{escape(self.state)}">'
            f'<h1 class="{css}">{escape(self.title)}</h1><p>{escape(self.message)}</p>'
            "</main></body></html>"
        )

    def response(self) -> Response[str]:
        headers = {"Cache-Control": "no-store"}
        if self.state == "unavailable":
            headers["Retry-After"] = str(REFRESH_SECONDS)
        return Response(
            content=self.render(),
            status_code=self.status_code,
            media_type=MediaType.HTML,
            headers=headers,
        )
