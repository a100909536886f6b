"""A real SMTP server (aiosmtpd) on loopback, in the test's own event loop."""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage as MimeMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session, syntax

from fitdata_core.ports.infrastructure import Mailer

SENDER = "Fitdata צוות <no-reply@fitdata.example>"


@dataclass
class MailBackend:
    """A mailer under test plus a way to see what was delivered, as a parsed MIME message."""

    name: str
    mailer: Mailer
    delivered: Callable[[], Awaitable[list[MimeMessage]]]


def parse(data: bytes) -> MimeMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, MimeMessage)
    return message


USER = "mailer-user"
PASSWORD = "p@ss:word/with%specials"


@dataclass
class RecordingHandler:
    """Keeps every message the server accepts; can be told to refuse with an SMTP code."""

    received: list[tuple[Envelope, MimeMessage]] = field(default_factory=list)
    # One entry per AUTH command the server saw, accepted or not: was the connection TLS then?
    auth_over_tls: list[bool] = field(default_factory=list)
    refuse_data: str | None = None
    refuse_rcpt: str | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse_data:
            return self.refuse_data
        assert isinstance(envelope.original_content, bytes)
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, MimeMessage)
        self.received.append((envelope, parsed))
        return "250 Message accepted"


def check_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login.decode() == USER
        and (data.password.decode() == PASSWORD)
    )
    return AuthResult(success=ok, handled=False)  # unhandled: the server answers 535


class RecordingSMTP(SMTP):
    """aiosmtpd's SMTP that notes every AUTH command before deciding on it."""

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        handler = self.event_handler
        assert isinstance(handler, RecordingHandler)
        # The transport is the TLS one after STARTTLS or with implicit TLS.
        transport = self.transport
        handler.auth_over_tls.append(
            transport is not None and transport.get_extra_info("ssl_object") is not None
        )
        await super().smtp_AUTH(arg)


@dataclass
class SmtpServer:
    handler: RecordingHandler
    server: asyncio.Server
    port: int

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def start_smtp_server(
    *,
    with_auth: bool = False,
    starttls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
) -> SmtpServer:
    """Plain SMTP; ``starttls`` offers (and requires) STARTTLS; ``implicit_tls`` is smtps.

    With ``starttls`` the server refuses AUTH until the connection is upgraded. aiosmtpd cannot
    tell that an implicit-TLS connection is encrypted, so there (and on plain SMTP) it takes AUTH
    as is; ``handler.auth_over_tls`` says what each login actually travelled over.
    """
    handler = RecordingHandler()
    options: dict[str, Any] = {"hostname": "localhost"}
    if starttls is not None:
        options.update(tls_context=starttls, require_starttls=True)
    if with_auth:
        options.update(authenticator=check_login, auth_require_tls=starttls is not None)
    server = await asyncio.get_running_loop().create_server(
        lambda: RecordingSMTP(handler, **options), "127.0.0.1", 0, ssl=implicit_tls
    )
    port = server.sockets[0].getsockname()[1]
    return SmtpServer(handler=handler, server=server, port=port)
