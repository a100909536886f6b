"""One structured log line per request: id, method, path, query, status, duration.

It wraps the whole Litestar ASGI handler (outside routing and exception handling), so 404s
for unknown paths and errors turned into problems are logged too. It is the service's one
access log (``fitdata serve`` turns uvicorn's off). It never logs headers or bodies: the
Authorization header and personal data stay out of the logs.

Query strings carry secrets (a download link's ``sig``, Cardcom's ``lowprofilecode``, a token
someone pasted), so the ``query`` field keeps every parameter's *name* but only the values of
the harmless paging and filter parameters in :data:`LOGGED_QUERY_VALUES`; every other value is
``REDACTED``. An allowlist rather than a list of secret names: a parameter added tomorrow is
hidden until someone decides it is safe to show.
"""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import parse_qsl

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from fitdata_adapters.logging import get_logger
from fitdata_http.context import REQUEST_ID_KEY

__all__ = [
    "LOGGED_QUERY_VALUES",
    "REDACTED",
    "REQUEST_ID_HEADER",
    "RequestLogMiddleware",
    "redacted_query",
]

REQUEST_ID_HEADER = "x-request-id"
# A caller's id is reused only when it is short and plain, so it cannot forge log lines.
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

_log = get_logger("fitdata.http")

# Query parameters whose values are shown in the request log: paging, filters, analytics
# ranges. Nothing that grants access or identifies a payment.
LOGGED_QUERY_VALUES = frozenset({"limit", "offset", "role", "status", "tab", "from", "to"})
REDACTED = "REDACTED"
# A query string is logged up to this many parameters, each name and shown value cut short,
# so a hostile URL cannot flood the log.
_MAX_PARAMETERS = 20
_MAX_VALUE = 100
# A name is shown when it looks like a parameter name; a long or odd one may be a secret
# pasted without "name=" (``?eyJhbGci...``) and is redacted like a value.
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,23}")


def redacted_query(raw: bytes) -> str | None:
    """The query string with every value outside :data:`LOGGED_QUERY_VALUES` redacted."""
    if not raw:
        return None
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    shown = [
        f"{name if _PLAIN_NAME.fullmatch(name) else REDACTED}="
        f"{value[:_MAX_VALUE] if name in LOGGED_QUERY_VALUES else REDACTED}"
        for name, value in pairs[:_MAX_PARAMETERS]
    ]
    if len(pairs) > _MAX_PARAMETERS:
        shown.append("...")
    return "&".join(shown)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name.lower() == REQUEST_ID_HEADER.encode():
            text = value.decode("latin-1")
            return text if _SAFE_ID.fullmatch(text) else None
    return None


class RequestLogMiddleware:
    """ASGI middleware: assigns the request id, echoes it as ``X-Request-ID``, logs the line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})[REQUEST_ID_KEY] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                _log.info(
                    "request",
                    request_id=request_id,
                    method=scope.get("method"),
                    path=scope.get("path"),
                    query=redacted_query(scope.get("query_string", b"")),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
