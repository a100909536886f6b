"""The fitdata app under uvicorn in a daemon thread, for tests whose client is synchronous
(schemathesis) or lives in another process (a generated client)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable

import uvicorn

from fitdata_adapters.bootstrap import Runtime
from fitdata_http import create_app

STARTUP_TIMEOUT_SECONDS = 15.0


class LiveApp:
    """Serves ``create_app(build_runtime())`` on 127.0.0.1 (a port the OS picks). The runtime
    is built inside the server thread so its engine belongs to that thread's event loop."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, build_runtime: Callable[[], Runtime]) -> None:
        def serve() -> None:
            async def main() -> None:
                app = create_app(build_runtime(), close_runtime_on_shutdown=True)
                config = uvicorn.Config(
                    app, log_level="warning", access_log=False, lifespan="on", ws="none"
                )
                self._server = uvicorn.Server(config)
                await self._server.serve(sockets=[self._sock])

            asyncio.run(main())

        self._thread = threading.Thread(target=serve, name="fitdata-live-app", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while self._server is None or not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fitdata app did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._sock.close()
