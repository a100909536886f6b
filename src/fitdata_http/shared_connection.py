"""Each API request's reads on one pooled connection (see
:mod:`fitdata_adapters.db.shared_reads`), given back as the response starts."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from fitdata_adapters.db.shared_reads import shared_reads

__all__ = ["SharedReadsMiddleware"]


class SharedReadsMiddleware:
    """ASGI middleware: the request's separate-reads units of work (the token check, a read
    use case) share one connection, returned to the pool when the response starts (a
    streamed body never holds it) or, at the latest, when the request ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        async with shared_reads() as shared:

            async def send_releasing(message: Message) -> None:
                if message["type"] == "http.response.start":
                    await shared.release()
                await send(message)

            await self.app(scope, receive, send_releasing)
