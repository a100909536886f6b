"""Fixtures for the mail contract suite: memory, the .eml outbox, and SMTP (aiosmtpd)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage as MimeMessage
from pathlib import Path

import pytest
from mail_servers import SENDER, MailBackend, SmtpServer, parse, start_smtp_server

from fitdata_adapters.mail.memory import MemoryMailer
from fitdata_adapters.mail.outbox import EmlOutboxMailer
from fitdata_adapters.mail.smtp import SmtpMailer


@pytest.fixture
async def smtp_server() -> AsyncIterator[SmtpServer]:
    server = await start_smtp_server()
    yield server
    await server.stop()


@pytest.fixture(params=["memory", "outbox", "smtp"])
async def mail_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[MailBackend]:
    if request.param == "smtp":
        # Started here, not via getfixturevalue: async fixtures cannot be requested that way.
        server = await start_smtp_server()
        smtp = SmtpMailer.from_url(f"smtp://127.0.0.1:{server.port}?timeout=5", sender=SENDER)

        async def from_server() -> list[MimeMessage]:
            return [message for _, message in server.handler.received]

        yield MailBackend("smtp", smtp, from_server)
        await server.stop()
    else:
        yield _local_backend(request.param, tmp_path)


def _local_backend(name: str, tmp_path: Path) -> MailBackend:
    if name == "memory":
        memory = MemoryMailer(SENDER)

        async def from_memory() -> list[MimeMessage]:
            return [parse(m.as_bytes()) for m in memory.rendered]

        return MailBackend("memory", memory, from_memory)
    if name == "outbox":
        folder = tmp_path / "outbox"
        outbox = EmlOutboxMailer(folder, sender=SENDER)

        async def from_folder() -> list[MimeMessage]:
            return [parse(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]

        return MailBackend("outbox", outbox, from_folder)
    raise AssertionError(name)
