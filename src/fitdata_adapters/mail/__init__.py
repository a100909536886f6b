"""Mail adapters: SMTP, an ``.eml`` outbox folder, and an in-memory mailer for tests."""

from fitdata_adapters.mail.memory import MemoryMailer
from fitdata_adapters.mail.message import render_message
from fitdata_adapters.mail.outbox import EmlOutboxMailer
from fitdata_adapters.mail.smtp import SmtpMailer

__all__ = ["EmlOutboxMailer", "MemoryMailer", "SmtpMailer", "render_message"]
