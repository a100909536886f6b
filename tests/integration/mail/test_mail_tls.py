"""SMTP over TLS (STARTTLS and smtps://) against aiosmtpd, with certificates from a test CA."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from mail_servers import PASSWORD, SENDER, USER, SmtpServer, start_smtp_server
from tls_certs import Authority, new_authority

from fitdata_adapters.mail.smtp import SmtpMailer
from fitdata_core.errors import ConfigurationError, MailUnavailable
from fitdata_core.ports.infrastructure import EmailMessage

pytestmark = pytest.mark.integration

MESSAGE = EmailMessage(to="dana@example.com", subject="שלום", text="hi")
CREDENTIALS = f"{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@"


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    """The private CA the mailer is told to trust (``?cafile=``)."""
    return new_authority(tmp_path / "trusted")


def mailer_for(
    server: SmtpServer, authority: Authority, *, scheme: str = "smtp", starttls: bool = True
) -> SmtpMailer:
    options = f"timeout=5&cafile={quote(str(authority.cafile), safe='')}"
    if scheme == "smtp":
        options += f"&starttls={'true' if starttls else 'false'}"
    url = f"{scheme}://{CREDENTIALS}127.0.0.1:{server.port}?{options}"
    return SmtpMailer.from_url(url, sender=SENDER)


@pytest.fixture
async def servers() -> AsyncIterator[list[SmtpServer]]:
    """Servers a test starts; stopped afterwards even when the test fails."""
    started: list[SmtpServer] = []
    yield started
    for server in started:
        await server.stop()


class TestStartTls:
    async def test_login_after_starttls_delivers(
        self, authority: Authority, tmp_path: Path, servers: list[SmtpServer]
    ) -> None:
        server = await start_smtp_server(
            with_auth=True, starttls=authority.server_context(tmp_path)
        )
        servers.append(server)
        await mailer_for(server, authority).send(MESSAGE)
        [(envelope, message)] = server.handler.received
        assert envelope.rcpt_tos == ["dana@example.com"]
        assert message["Subject"] == "שלום"
        assert server.handler.auth_over_tls == [True]

    async def test_server_without_starttls_is_unavailable_and_gets_no_login(
        self, authority: Authority, servers: list[SmtpServer]
    ) -> None:
        # A server that would take the login in clear, were it sent.
        server = await start_smtp_server(with_auth=True)
        servers.append(server)
        with pytest.raises(MailUnavailable) as caught:
            await mailer_for(server, authority).send(MESSAGE)
        assert "does not offer STARTTLS" in caught.value.message
        assert PASSWORD not in str(caught.value)
        assert server.handler.auth_over_tls == []
        assert server.handler.received == []

    async def test_a_login_to_another_host_insists_on_starttls_unless_told_not_to(
        self, servers: list[SmtpServer]
    ) -> None:
        # No starttls option: to loopback the login may go in clear (a local relay); to any
        # other host it must not, so the mailer insists on the upgrade. The machine's own host
        # name stands for "another host" (it is a name, not a loopback literal).
        server = await start_smtp_server(with_auth=True)
        servers.append(server)
        host = socket.gethostname()
        remote = SmtpMailer.from_url(
            f"smtp://{CREDENTIALS}{host}:{server.port}?timeout=5", sender=SENDER
        )
        with pytest.raises(MailUnavailable) as caught:
            await remote.send(MESSAGE)
        assert "does not offer STARTTLS" in caught.value.message
        assert server.handler.auth_over_tls == []

        local = SmtpMailer.from_url(
            f"smtp://{CREDENTIALS}127.0.0.1:{server.port}?timeout=5", sender=SENDER
        )
        opted_out = SmtpMailer.from_url(
            f"smtp://{CREDENTIALS}{host}:{server.port}?timeout=5&starttls=false", sender=SENDER
        )
        await local.send(MESSAGE)
        await opted_out.send(MESSAGE)
        assert server.handler.auth_over_tls == [False, False]
        assert len(server.handler.received) == 2


class TestImplicitTls:
    async def test_login_over_smtps_delivers(
        self, authority: Authority, tmp_path: Path, servers: list[SmtpServer]
    ) -> None:
        server = await start_smtp_server(
            with_auth=True, implicit_tls=authority.server_context(tmp_path)
        )
        servers.append(server)
        await mailer_for(server, authority, scheme="smtps").send(MESSAGE)
        assert len(server.handler.received) == 1
        assert server.handler.auth_over_tls == [True]


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
class TestUnverifiableCertificate:
    async def test_certificate_from_an_untrusted_ca(
        self, scheme: str, authority: Authority, tmp_path: Path, servers: list[SmtpServer]
    ) -> None:
        stranger = new_authority(tmp_path / "stranger", "some other CA")
        server = await _start(scheme, stranger.server_context(tmp_path))
        servers.append(server)
        await _refused_for_certificate(server, mailer_for(server, authority, scheme=scheme))

    async def test_certificate_for_another_host(
        self, scheme: str, authority: Authority, tmp_path: Path, servers: list[SmtpServer]
    ) -> None:
        context = authority.server_context(tmp_path, names=("mail.example",))
        server = await _start(scheme, context)
        servers.append(server)
        await _refused_for_certificate(server, mailer_for(server, authority, scheme=scheme))


async def _start(scheme: str, context: ssl.SSLContext) -> SmtpServer:
    if scheme == "smtps":
        return await start_smtp_server(with_auth=True, implicit_tls=context)
    return await start_smtp_server(with_auth=True, starttls=context)


async def _refused_for_certificate(server: SmtpServer, mailer: SmtpMailer) -> None:
    with pytest.raises(MailUnavailable) as caught:
        await mailer.send(MESSAGE)
    assert "certificate could not be verified" in caught.value.message
    assert PASSWORD not in str(caught.value)
    assert server.handler.auth_over_tls == []
    assert server.handler.received == []


class TestCaFileOption:
    def test_unreadable_cafile_is_a_configuration_error(self, tmp_path: Path) -> None:
        not_pem = tmp_path / "ca.pem"
        not_pem.write_text("not a certificate")
        for cafile in (not_pem, tmp_path / "missing.pem"):
            url = f"smtp://u:topsecret@mail.example?starttls=true&cafile={cafile}"
            with pytest.raises(ConfigurationError) as caught:
                SmtpMailer.from_url(url, sender=SENDER)
            assert "SMTP_URL: cafile" in caught.value.message
            assert "topsecret" not in caught.value.message

    async def test_without_cafile_a_private_ca_is_not_trusted(
        self, authority: Authority, tmp_path: Path, servers: list[SmtpServer]
    ) -> None:
        server = await start_smtp_server(
            with_auth=True, starttls=authority.server_context(tmp_path)
        )
        servers.append(server)
        url = f"smtp://{CREDENTIALS}127.0.0.1:{server.port}?starttls=true&timeout=5"
        await _refused_for_certificate(server, SmtpMailer.from_url(url, sender=SENDER))
