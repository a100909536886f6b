"""Running the sandbox: in the foreground (CLI) or in a background thread (tests, ``make run``)."""

from __future__ import annotations

from fitdata_adapters.cardcom_sandbox.app import SandboxApp, create_sandbox_app
from fitdata_adapters.cardcom_sandbox.config import SandboxConfig
from fitdata_adapters.cardcom_sandbox.engine import CardcomSandbox
from fitdata_adapters.sandbox_server import ThreadedServer, serve_forever


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 8765,
    config: SandboxConfig | None = None,
    *,
    app: SandboxApp | None = None,
) -> None:
    """Serve the sandbox (``app``, else one built from ``config``) until interrupted: what
    ``fitdata sandbox cardcom --port N`` runs."""
    serve_forever(app or create_sandbox_app(config), host, port)


class SandboxThread(ThreadedServer):
    """The sandbox on ``host`` (a free port by default) in a daemon thread.

    ::

        with SandboxThread(SandboxConfig(time_scale=0.0001)) as sandbox:
            gateway = CardcomGateway(base_url=sandbox.base_url, ...)
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        any_port_if_taken: bool = False,
    ) -> None:
        """``port`` 0 takes a free one; with ``any_port_if_taken`` a busy ``port`` is only a
        preference (the embedded sandbox asks for the port it had before a restart)."""
        self.config = config or SandboxConfig()
        self.app: SandboxApp = create_sandbox_app(self.config)
        super().__init__(
            self.app,
            name="Cardcom sandbox",
            host=host,
            port=port,
            any_port_if_taken=any_port_if_taken,
        )

    @property
    def sandbox(self) -> CardcomSandbox:
        """The engine, for in-process inspection (state is owned by the server thread)."""
        return self.app.sandbox
