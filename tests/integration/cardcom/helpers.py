"""Helpers for the Cardcom integration tests: a real webhook receiver and polling."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fitdata_adapters.cardcom import RetryPolicy

API_NAME = "fitdata-it-terminal"
TERMINAL = 1000
SUCCESS_URL = "https://app.fitdata.test/billing/checkout-return?src=cardcom"
FAILED_URL = "https://app.fitdata.test/billing/checkout-failed"
FAST_RETRIES = RetryPolicy(max_attempts=3, max_total_seconds=10, initial_wait=0.01, max_wait=0.05)


class WebhookReceiver:
    """A tiny real HTTP server that records webhook POSTs and answers from a script."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.arrival_times: list[float] = []
        #: Status codes for the next requests, in order; 200 once exhausted.
        self.script: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                with receiver._lock:
                    receiver.received.append(body)
                    receiver.arrival_times.append(time.monotonic())
                    status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/webhooks/cardcom"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    async def wait_for(self, count: int, within: float = 5.0) -> list[dict[str, Any]]:
        """Wait until ``count`` webhooks arrived; return them."""
        await eventually(lambda: len(self.received) >= count, within)
        return list(self.received)


async def eventually(check: Callable[[], bool | Awaitable[bool]], within: float = 5.0) -> None:
    """Poll ``check`` (sync or async) until it is true, failing after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        outcome = check()
        if isinstance(outcome, Awaitable):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.01)
