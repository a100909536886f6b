"""Mail over SMTP (aiosmtplib), configured by one URL.

``smtp://[user:pass@]host[:port][?starttls=true|false&timeout=<seconds>&cafile=<path>]``
speaks plain SMTP (default port 25, or 587 with ``starttls=true``, which insists on the TLS
upgrade and stops before the login if the server does not offer it); without ``starttls`` the
connection upgrades to TLS when the server offers it, except that a login to any host but
loopback insists on it as ``starttls=true`` does (``starttls=false`` opts out).
``smtps://...`` connects with implicit TLS (default port 465). Server certificates are always
verified against the system's CAs, plus the PEM certificates in ``cafile`` (a private CA).
User and password are URL-encoded.
"""

from __future__ import annotations

import ipaddress
import ssl
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from fitdata_adapters.mail.message import address_of, render_message, sender_address
from fitdata_core.errors import ConfigurationError, MailUnavailable
from fitdata_core.ports.infrastructure import EmailMessage

__all__ = ["SmtpMailer"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigurationError("SMTP_URL: starttls must be true or false")


class SmtpMailer:
    """A :class:`~fitdata_core.ports.infrastructure.Mailer` that hands mail to an SMTP server."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        start_tls: bool | None = None,
        timeout: float = 15.0,
        cafile: str | None = None,
    ) -> None:
        """``start_tls=None`` upgrades when the server offers STARTTLS; ``use_tls`` is smtps.

        ``cafile`` names PEM CA certificates trusted in addition to the system's.
        """
        self._envelope_from = sender_address(sender)
        self._sender = sender
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._use_tls = use_tls
        if use_tls:
            start_tls = None
        elif start_tls is None and username and not _is_loopback(host):
            # A login to another machine goes over TLS or not at all: upgrading only "when
            # offered" would hand the password to anyone who strips the STARTTLS offer.
            start_tls = True
        self._start_tls = start_tls
        self._timeout = timeout
        self._cafile = cafile

    @classmethod
    def from_url(cls, url: str, *, sender: str, timeout: float = 15.0) -> SmtpMailer:
        """Build from an ``smtp://`` or ``smtps://`` URL (see the module docs)."""
        # Messages never echo the URL: it may hold a password.
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ConfigurationError("SMTP_URL must start with smtp:// or smtps://")
        try:
            port = parts.port
        except ValueError:
            raise ConfigurationError("SMTP_URL has an invalid port") from None
        if not parts.hostname:
            raise ConfigurationError("SMTP_URL must name a host")
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        unknown = set(query) - {"starttls", "timeout", "cafile"}
        if unknown:
            raise ConfigurationError(f"SMTP_URL has unknown options: {', '.join(sorted(unknown))}")
        use_tls = parts.scheme == "smtps"
        start_tls = _flag(query["starttls"]) if "starttls" in query else None
        if use_tls and start_tls:
            raise ConfigurationError("SMTP_URL: smtps:// is already TLS; drop starttls=true")
        if "timeout" in query:
            try:
                timeout = float(query["timeout"])
            except ValueError:
                raise ConfigurationError("SMTP_URL: timeout must be a number") from None
        cafile = query.get("cafile")
        if cafile is not None:
            _check_cafile(cafile)
        default_port = 465 if use_tls else 587 if start_tls else 25
        return cls(
            host=parts.hostname,
            port=port or default_port,
            sender=sender,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            use_tls=use_tls,
            start_tls=start_tls,
            timeout=timeout,
            cafile=cafile,
        )

    def __repr__(self) -> str:
        user = f"{self._username}@" if self._username else ""
        scheme = "smtps" if self._use_tls else "smtp"
        return f"SmtpMailer({scheme}://{user}{self._host}:{self._port})"

    async def send(self, message: EmailMessage) -> None:
        mime = render_message(message, sender=self._sender)
        recipient = address_of(message.to)
        try:
            await aiosmtplib.send(
                mime,
                sender=self._envelope_from,
                recipients=[recipient] if recipient else [],
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._use_tls,
                start_tls=self._start_tls,
                timeout=self._timeout,
                cert_bundle=self._cafile,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailUnavailable(
                f"The mail server {self._host}:{self._port} did not take the message: "
                f"{_describe(exc)}"
            ) from exc


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_cafile(cafile: str) -> None:
    # Caught at startup, not at the first mail: a path typo would otherwise look like an outage.
    try:
        ssl.create_default_context(cafile=cafile)
    except (OSError, ValueError):
        raise ConfigurationError(
            f"SMTP_URL: cafile {cafile!r} is not a readable file of PEM CA certificates"
        ) from None


def _describe(exc: BaseException) -> str:
    # Reply codes, exception names and TLS verdicts only: server replies can echo what we sent
    # (the login).
    cause: BaseException | None = exc
    while cause is not None:  # aiosmtplib wraps a failed implicit-TLS handshake
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"the server's TLS certificate could not be verified ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            return f"the TLS handshake failed ({cause.reason or type(cause).__name__})"
        cause = cause.__cause__
    if type(exc) is aiosmtplib.SMTPException and "STARTTLS" in exc.message:
        # Raised before any login is sent, so the password never goes out in clear.
        return "the server does not offer STARTTLS, which starttls=true requires"
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = ", ".join(str(refusal.code) for refusal in exc.recipients)
        return f"recipient refused ({codes})"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return f"login refused ({exc.code})"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{type(exc).__name__} ({exc.code})"
    return type(exc).__name__
