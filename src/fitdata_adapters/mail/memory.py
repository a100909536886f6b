"""A mailer that keeps what it is asked to send, for tests and demos."""

from __future__ import annotations

from email.message import EmailMessage as MimeMessage

from fitdata_adapters.mail.message import render_message, sender_address
from fitdata_core.errors import MailUnavailable
from fitdata_core.ports.infrastructure import EmailMessage

__all__ = ["MemoryMailer"]


class MemoryMailer:
    """Collects messages in :attr:`sent` (and their MIME form in :attr:`rendered`).

    Setting :attr:`down` makes it refuse like an unreachable mail server.
    """

    def __init__(self, sender: str = "fitdata <no-reply@fitdata.local>") -> None:
        sender_address(sender)
        self.sender = sender
        self.sent: list[EmailMessage] = []
        self.rendered: list[MimeMessage] = []
        self.down = False

    async def send(self, message: EmailMessage) -> None:
        # Rendered first, so bad headers fail here exactly as they would in production.
        mime = render_message(message, sender=self.sender)
        if self.down:
            raise MailUnavailable("The mail server is unreachable.")
        self.sent.append(message)
        self.rendered.append(mime)
