"""Mail written as ``.eml`` files to a folder: the embedded default.

Each message is a standard RFC 5322 file that any mail client opens, so a developer can read
"your export is ready" without running a mail server.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from fitdata_adapters.clock import SystemClock
from fitdata_adapters.mail.message import render_message, sender_address
from fitdata_adapters.private_fs import make_private_dir, write_private
from fitdata_core.errors import MailUnavailable
from fitdata_core.ports.clock import Clock
from fitdata_core.ports.infrastructure import EmailMessage

__all__ = ["EmlOutboxMailer"]


class EmlOutboxMailer:
    """A :class:`~fitdata_core.ports.infrastructure.Mailer` that writes one ``.eml`` per message.

    Files are named ``<UTC time>-<random>.eml`` so they list in sending order, and appear
    only once complete (written aside, then renamed).
    """

    def __init__(self, folder: Path, *, sender: str, clock: Clock | None = None) -> None:
        sender_address(sender)
        self._folder = folder
        self._sender = sender
        self._clock: Clock = clock or SystemClock()
        self._sequence = 0

    @property
    def folder(self) -> Path:
        return self._folder

    async def send(self, message: EmailMessage) -> None:
        await self.write(message)

    async def write(self, message: EmailMessage) -> Path:
        """Write ``message`` as an ``.eml`` file and return its path."""
        now = self._clock.now()
        mime = render_message(message, sender=self._sender, now=now)
        self._sequence += 1  # keeps sending order when two messages share a microsecond
        name = f"{now:%Y%m%dT%H%M%S%fZ}-{self._sequence:06d}-{secrets.token_hex(4)}.eml"
        try:
            return await asyncio.to_thread(self._write, name, mime.as_bytes())
        except OSError as exc:
            raise MailUnavailable(
                f"Could not write to the mail outbox {str(self._folder)!r}: "
                f"{exc.strerror or type(exc).__name__}"
            ) from exc

    def _write(self, name: str, data: bytes) -> Path:
        # Private (0700 folder, 0600 files): a message may hold a live download link.
        make_private_dir(self._folder)
        partial = self._folder / f".{name}.part"
        target = self._folder / name
        try:
            write_private(partial, data)
            partial.replace(target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return target
