"""SMTP failures and configuration, the outbox files, and the memory mailer's switches."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import quote

import pytest
from mail_servers import PASSWORD, SENDER, USER, SmtpServer, parse, start_smtp_server

from fitdata_adapters.mail.memory import MemoryMailer
from fitdata_adapters.mail.outbox import EmlOutboxMailer
from fitdata_adapters.mail.smtp import SmtpMailer
from fitdata_core.errors import ConfigurationError, MailUnavailable
from fitdata_core.ports.infrastructure import EmailMessage

pytestmark = pytest.mark.integration

MESSAGE = EmailMessage(to="dana@example.com", subject="שלום", text="hi")


def mailer_for(server: SmtpServer, credentials: str = "") -> SmtpMailer:
    return SmtpMailer.from_url(
        f"smtp://{credentials}127.0.0.1:{server.port}?timeout=5", sender=SENDER
    )


class TestSmtp:
    async def test_envelope_uses_the_bare_addresses(self, smtp_server: SmtpServer) -> None:
        await mailer_for(smtp_server).send(MESSAGE)
        [(envelope, message)] = smtp_server.handler.received
        assert envelope.mail_from == "no-reply@fitdata.example"
        assert envelope.rcpt_tos == ["dana@example.com"]
        assert message["Subject"] == "שלום"

    async def test_refused_message_is_unavailable(self, smtp_server: SmtpServer) -> None:
        smtp_server.handler.refuse_data = "550 5.7.1 Message rejected as spam"
        with pytest.raises(MailUnavailable) as caught:
            await mailer_for(smtp_server).send(MESSAGE)
        assert "550" in caught.value.message
        assert smtp_server.handler.received == []

    async def test_refused_recipient_is_unavailable(self, smtp_server: SmtpServer) -> None:
        smtp_server.handler.refuse_rcpt = "550 5.1.1 No such user"
        with pytest.raises(MailUnavailable) as caught:
            await mailer_for(smtp_server).send(MESSAGE)
        assert "recipient refused (550)" in caught.value.message

    async def test_server_down_is_unavailable(self) -> None:
        server = await start_smtp_server()
        port = server.port
        await server.stop()
        mailer = SmtpMailer.from_url(f"smtp://127.0.0.1:{port}?timeout=2", sender=SENDER)
        with pytest.raises(MailUnavailable) as caught:
            await mailer.send(MESSAGE)
        assert f"127.0.0.1:{port}" in caught.value.message

    async def test_server_that_never_answers_times_out(self) -> None:
        # A socket that accepts connections (backlog) but never speaks SMTP.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            port = silent.getsockname()[1]
            mailer = SmtpMailer.from_url(f"smtp://127.0.0.1:{port}?timeout=0.5", sender=SENDER)
            with pytest.raises(MailUnavailable):
                await mailer.send(MESSAGE)

    async def test_login_with_url_encoded_credentials(self) -> None:
        server = await start_smtp_server(with_auth=True)
        try:
            credentials = f"{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@"
            await mailer_for(server, credentials).send(MESSAGE)
            assert len(server.handler.received) == 1
        finally:
            await server.stop()

    async def test_wrong_password_is_unavailable_without_the_password(self) -> None:
        server = await start_smtp_server(with_auth=True)
        try:
            wrong = "hunter2-wrong-password"
            mailer = mailer_for(server, f"{USER}:{wrong}@")
            with pytest.raises(MailUnavailable) as caught:
                await mailer.send(MESSAGE)
            assert "login refused (535)" in caught.value.message
            assert wrong not in str(caught.value)
            assert wrong not in repr(mailer)
            assert server.handler.received == []
        finally:
            await server.stop()


class TestSmtpUrl:
    def test_defaults_and_options(self) -> None:
        assert repr(SmtpMailer.from_url("smtp://mail.example", sender=SENDER)) == (
            "SmtpMailer(smtp://mail.example:25)"
        )
        assert repr(SmtpMailer.from_url("smtp://mail.example?starttls=true", sender=SENDER)) == (
            "SmtpMailer(smtp://mail.example:587)"
        )
        assert repr(SmtpMailer.from_url("smtps://u:secret@mail.example", sender=SENDER)) == (
            "SmtpMailer(smtps://u@mail.example:465)"
        )
        assert repr(SmtpMailer.from_url("smtp://mail.example:2525", sender=SENDER)) == (
            "SmtpMailer(smtp://mail.example:2525)"
        )

    @pytest.mark.parametrize(
        "url",
        [
            "http://u:topsecret@mail.example",
            "smtp://u:topsecret@",
            "smtp://u:topsecret@mail.example:notaport",
            "smtp://u:topsecret@mail.example?starttls=maybe",
            "smtp://u:topsecret@mail.example?timeout=soon",
            "smtp://u:topsecret@mail.example?verify=no",
            "smtps://u:topsecret@mail.example?starttls=true",
        ],
    )
    def test_bad_urls_are_configuration_errors_that_hide_the_password(self, url: str) -> None:
        with pytest.raises(ConfigurationError) as caught:
            SmtpMailer.from_url(url, sender=SENDER)
        assert "SMTP_URL" in caught.value.message
        assert "topsecret" not in caught.value.message

    def test_sender_must_be_an_address(self) -> None:
        with pytest.raises(ConfigurationError):
            SmtpMailer.from_url("smtp://mail.example", sender="nobody")


class TestOutbox:
    async def test_writes_openable_eml_files(self, tmp_path: Path) -> None:
        mailer = EmlOutboxMailer(tmp_path / "outbox", sender=SENDER)
        path = await mailer.write(MESSAGE)
        assert path.suffix == ".eml"
        assert path.parent == tmp_path / "outbox"
        data = path.read_bytes()
        assert data.isascii()  # 7-bit clean: Hebrew is encoded, any client opens it
        assert b"\r\n\r\n" in data
        assert parse(data)["Subject"] == "שלום"
        assert [p.name for p in (tmp_path / "outbox").iterdir()] == [path.name]

    async def test_unwritable_outbox_is_unavailable(self, tmp_path: Path) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("")
        with pytest.raises(MailUnavailable):
            await EmlOutboxMailer(blocker, sender=SENDER).send(MESSAGE)


class TestMemory:
    async def test_keeps_sent_messages_and_can_be_down(self) -> None:
        mailer = MemoryMailer()
        await mailer.send(MESSAGE)
        assert mailer.sent == [MESSAGE]
        assert mailer.rendered[0]["To"] == "dana@example.com"
        mailer.down = True
        with pytest.raises(MailUnavailable):
            await mailer.send(MESSAGE)
        assert mailer.sent == [MESSAGE]
