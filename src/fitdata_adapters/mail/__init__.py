"""Mail adapters: SMTP, an ``.eml`` outbox folder, and an in-memory mailer for tests.

``SmtpMailer`` is loaded on first use: a process that writes mail to the outbox folder (the
embedded mode) never needs aiosmtplib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fitdata_adapters.mail.memory import MemoryMailer
from fitdata_adapters.mail.message import render_message
from fitdata_adapters.mail.outbox import EmlOutboxMailer

if TYPE_CHECKING:
    from fitdata_adapters.mail.smtp import SmtpMailer

__all__ = ["EmlOutboxMailer", "MemoryMailer", "SmtpMailer", "render_message"]


def __getattr__(name: str) -> Any:
    # PEP 562: only the SMTP adapter is lazy; anything else is a genuine AttributeError.
    if name == "SmtpMailer":
        from fitdata_adapters.mail.smtp import SmtpMailer

        return SmtpMailer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
