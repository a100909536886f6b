"""The Mailer contract, run against the memory mailer, the .eml outbox and a real SMTP server."""

from __future__ import annotations

import pytest
from mail_servers import SENDER, MailBackend

from fitdata_core.errors import InvalidInput
from fitdata_core.ports.infrastructure import EmailMessage

pytestmark = pytest.mark.integration


def body(part: object) -> str:
    """A text part's content with line ends as Python writes them (MIME uses CRLF)."""
    content = part.get_content()  # type: ignore[attr-defined]
    assert isinstance(content, str)
    return content.replace("\r\n", "\n").rstrip("\n")


async def test_plain_text_message(mail_backend: MailBackend) -> None:
    await mail_backend.mailer.send(
        EmailMessage(to="dana@example.com", subject="Your export is ready", text="Download: x")
    )
    [message] = await mail_backend.delivered()
    assert message["To"] == "dana@example.com"
    assert message["From"] == SENDER
    assert message["Subject"] == "Your export is ready"
    assert message["Message-ID"].endswith("@fitdata.example>")
    assert message["Date"]
    assert message.get_content_type() == "text/plain"
    assert body(message) == "Download: x"


async def test_hebrew_subject_and_html_alternative(mail_backend: MailBackend) -> None:
    await mail_backend.mailer.send(
        EmailMessage(
            to="Dana Cohen <dana@example.com>",
            subject="הייצוא שלך מוכן ✔",
            text="שלום דנה,\nהקובץ מוכן.",
            html="<p>שלום דנה, <a href='https://x.example/d'>הורדה</a></p>",
        )
    )
    [message] = await mail_backend.delivered()
    assert message["Subject"] == "הייצוא שלך מוכן ✔"
    assert message.get_content_type() == "multipart/alternative"
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert text_part is not None
    assert html_part is not None
    assert body(text_part) == "שלום דנה,\nהקובץ מוכן."
    assert "href='https://x.example/d'" in body(html_part)
    assert text_part.get_content_charset() == "utf-8"


async def test_messages_arrive_in_order(mail_backend: MailBackend) -> None:
    for n in range(3):
        await mail_backend.mailer.send(
            EmailMessage(to=f"m{n}@example.com", subject=f"n{n}", text="t")
        )
    assert [m["Subject"] for m in await mail_backend.delivered()] == ["n0", "n1", "n2"]


@pytest.mark.parametrize(
    "message",
    [
        EmailMessage(to="dana@example.com", subject="hi\r\nBcc: victim@example.com", text="t"),
        EmailMessage(to="dana@example.com\r\nBcc: victim@example.com", subject="s", text="t"),
        EmailMessage(to="not an address", subject="s", text="t"),
    ],
)
async def test_header_injection_and_bad_recipients_are_refused(
    mail_backend: MailBackend, message: EmailMessage
) -> None:
    with pytest.raises(InvalidInput):
        await mail_backend.mailer.send(message)
    assert await mail_backend.delivered() == []
