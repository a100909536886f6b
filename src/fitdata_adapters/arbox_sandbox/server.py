"""Running the sandbox: in the foreground (CLI) or in a background thread (tests, the demo,
embedded mode)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn

from fitdata_adapters.arbox_sandbox.app import create_sandbox_app
from fitdata_adapters.arbox_sandbox.engine import ArboxSandbox, SandboxConfig

_STARTUP_TIMEOUT_SECONDS = 10.0


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Without it small keep-alive answers wait ~40 ms for a delayed ACK (Nagle), which would
    # swamp the latency a benchmark configures.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def run_sandbox(
    host: str = "127.0.0.1", port: int = 8200, sandbox: ArboxSandbox | None = None
) -> None:
    """Serve the sandbox until interrupted: what ``fitdata sandbox arbox --port N`` runs."""
    sock = _bind(host, port)
    app = create_sandbox_app(sandbox)
    server = uvicorn.Server(uvicorn.Config(app, log_level="info"))
    server.run(sockets=[sock])


class SandboxThread:
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
        self._host = host
        self._port = port
        self._any_port_if_taken = any_port_if_taken
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None

    @property
    def config(self) -> SandboxConfig:
        return self.sandbox.config

    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("the Arbox sandbox is not running")
        return self._bound_port

    @property
    def base_url(self) -> str:
        """``http://host:port``, the origin to give ``ArboxSource`` (no trailing slash)."""
        return f"http://{self._host}:{self.port}"

    def start(self) -> Self:
        """Bind, start serving and return once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the Arbox sandbox is already running")
        try:
            sock = _bind(self._host, self._port)
        except OSError:
            if not (self._port and self._any_port_if_taken):
                raise
            sock = _bind(self._host, 0)
        self._bound_port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_sandbox_app(self.sandbox),
            log_level="warning",
            # The host process owns logging: uvicorn's own dictConfig would replace its
            # handlers (and bind them to whatever sys.stderr is now, e.g. a CLI capture).
            log_config=None,
            access_log=False,
            lifespan="on",
            ws="none",
            # Calls slowed by latency must not hold shutdown for long.
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="arbox-sandbox", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError("the Arbox sandbox did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None
        self._bound_port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
