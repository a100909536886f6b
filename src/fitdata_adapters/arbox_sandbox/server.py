"""Running the sandbox: in the foreground (CLI) or in a background thread (tests, the demo,
embedded mode)."""

from __future__ import annotations

from fitdata_adapters.arbox_sandbox.app import create_sandbox_app
from fitdata_adapters.arbox_sandbox.engine import ArboxSandbox, SandboxConfig
from fitdata_adapters.sandbox_server import ThreadedServer, serve_forever


def run_sandbox(
    host: str = "127.0.0.1", port: int = 8200, sandbox: ArboxSandbox | None = None
) -> None:
    """Serve the sandbox until interrupted: what ``fitdata sandbox arbox --port N`` runs."""
    serve_forever(create_sandbox_app(sandbox), host, port)


class SandboxThread(ThreadedServer):
    """The Arbox sandbox on ``host`` (a free port by default) in a daemon thread.

    ::

        with SandboxThread(SandboxConfig(members=1500)) as arbox:
            source = ArboxSource(base_url=arbox.base_url)
            arbox.sandbox.fail_next(429, retry_after=1)
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
        preference."""
        self.sandbox = ArboxSandbox(config)
        super().__init__(
            create_sandbox_app(self.sandbox),
            name="Arbox sandbox",
            host=host,
            port=port,
            any_port_if_taken=any_port_if_taken,
        )

    @property
    def config(self) -> SandboxConfig:
        return self.sandbox.config
