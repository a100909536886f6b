"""Turning the core's :class:`EmailMessage` into a MIME message every mailer sends the same way."""

from __future__ import annotations

import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, make_msgid, parseaddr

from fitdata_core.errors import ConfigurationError, InvalidInput
from fitdata_core.ports.infrastructure import EmailMessage

__all__ = ["POLICY", "address_of", "render_message", "sender_address"]

POLICY = email.policy.SMTP.clone(cte_type="7bit")
"""CRLF line ends and 7-bit bodies (UTF-8 text is base64 or quoted-printable), so any relay
accepts the message; non-ASCII headers such as a Hebrew subject use RFC 2047 encoded words."""


def address_of(value: str) -> str | None:
    """The bare ``user@domain`` in ``value`` (``"Name <user@domain>"`` or plain), or None."""
    if "\r" in value or "\n" in value:
        return None
    address = parseaddr(value)[1]
    local, at, domain = address.rpartition("@")
    return address if at and local and "." in domain.strip(".") else None


def sender_address(sender: str) -> str:
    """Check a configured From address once, when a mailer is built."""
    address = address_of(sender)
    if address is None:
        raise ConfigurationError("MAIL_FROM must be an email address such as 'App <a@b.example>'")
    return address


def render_message(
    message: EmailMessage, *, sender: str, now: datetime | None = None
) -> MimeMessage:
    """``message`` as MIME: plain text, plus an HTML alternative when there is one.

    Raises ``InvalidInput`` for a recipient that is not an address or a header that tries to
    smuggle in line breaks (header injection).
    """
    if address_of(message.to) is None:
        raise InvalidInput("The recipient is not an email address", field="to")
    mime = MimeMessage(policy=POLICY)
    try:
        mime["From"] = sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
    except ValueError as exc:  # the email package refuses CR/LF in header values
        raise InvalidInput("Email headers may not contain line breaks", field="subject") from exc
    mime["Date"] = format_datetime(now or datetime.now(UTC))
    # An explicit domain: make_msgid would otherwise look up this host's name (slow DNS).
    mime["Message-ID"] = make_msgid(domain=sender_address(sender).rpartition("@")[2])
    mime.set_content(message.text)
    if message.html is not None:
        mime.add_alternative(message.html, subtype="html")
    return mime
