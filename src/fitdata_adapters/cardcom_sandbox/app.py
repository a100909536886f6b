"""The sandbox ASGI application."""

from __future__ import annotations

from litestar.di import Provide
from litestar.types import ASGIApp, Receive, Scope, Send

from fitdata_adapters.cardcom_sandbox.api import API_HANDLERS
from fitdata_adapters.cardcom_sandbox.config import SandboxConfig
from fitdata_adapters.cardcom_sandbox.control import CONTROL_HANDLERS
from fitdata_adapters.cardcom_sandbox.engine import CardcomSandbox
from fitdata_adapters.cardcom_sandbox.page import show_page, submit_page
from fitdata_adapters.lean_litestar import LeanLitestar


class SandboxApp:
    """ASGI app with case-insensitive paths (Cardcom runs on ASP.NET, whose routes are).

    ``sandbox`` is the engine behind it, for in-process inspection.
    """

    def __init__(self, app: ASGIApp, sandbox: CardcomSandbox) -> None:
        self._app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            # Ids (GUIDs) are generated in lower case, so lower-casing the whole path is safe.
            scope = {  # type: ignore[assignment]
                **scope,
                "path": scope["path"].lower(),
                "raw_path": (scope.get("raw_path") or scope["path"].encode()).lower(),
            }
        await self._app(scope, receive, send)


def create_sandbox_app(config: SandboxConfig | None = None) -> SandboxApp:
    """Build the sandbox: v11 API, hosted page and ``/_sandbox`` controls."""
    sandbox = CardcomSandbox(config or SandboxConfig())

    def provide_sandbox() -> CardcomSandbox:
        return sandbox

    app = LeanLitestar(
        route_handlers=[*API_HANDLERS, show_page, submit_page, *CONTROL_HANDLERS],
        dependencies={"sandbox": Provide(provide_sandbox, sync_to_thread=False)},
        on_shutdown=[sandbox.shutdown],
        openapi_config=None,
    )
    return SandboxApp(app, sandbox)
