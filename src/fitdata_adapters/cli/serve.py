"""Signal handling shared by the commands that run a server until stopped (``fitdata serve``
in ``fitdata_http``, ``fitdata sandbox cardcom`` here)."""

from __future__ import annotations

import signal


def exit_quietly_after_signals() -> None:
    """After a graceful shutdown uvicorn re-raises the signal that stopped it, to the handler
    that was installed before it started. With the default handler a SIGTERM would then kill
    the process (exit status -15) although everything shut down cleanly; a no-op handler
    makes ``fitdata serve`` exit 0 on SIGTERM and Ctrl-C."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _signum, _frame: None)
