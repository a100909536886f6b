"""The sandbox ASGI application: both Arbox APIs and the ``/_sandbox`` controls on one port."""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide

from fitdata_adapters.arbox_sandbox.api import API_HANDLERS
from fitdata_adapters.arbox_sandbox.control import CONTROL_HANDLERS
from fitdata_adapters.arbox_sandbox.engine import ArboxSandbox, SandboxConfig
from fitdata_adapters.lean_litestar import LeanLitestar


def create_sandbox_app(sandbox: ArboxSandbox | SandboxConfig | None = None) -> Litestar:
    """Build the app around ``sandbox`` (or a new one from a config). The engine is at
    ``app.state.sandbox`` for in-process inspection."""
    engine = sandbox if isinstance(sandbox, ArboxSandbox) else ArboxSandbox(sandbox)

    def provide_sandbox() -> ArboxSandbox:
        return engine

    app = LeanLitestar(
        route_handlers=[*API_HANDLERS, *CONTROL_HANDLERS],
        dependencies={"sandbox": Provide(provide_sandbox, sync_to_thread=False)},
        openapi_config=None,
        # The host process owns logging: Litestar's default config would add a root handler
        # bound to whatever sys.stderr is when the app is built (e.g. a CLI's capture).
        logging_config=None,
    )
    app.state.sandbox = engine
    return app
