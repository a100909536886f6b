"""Configuration of the Cardcom sandbox server."""

from __future__ import annotations

from pathlib import Path

import attrs


@attrs.frozen
class SandboxConfig:
    """How the sandbox behaves.

    ``terminal_number``/``api_name``: the only credentials accepted (others get 603).
    ``public_base_url``: the origin written into hosted-page URLs; ``None`` means "the origin
    the caller used". ``time_scale`` multiplies Cardcom's webhook retry intervals (1.0 = real
    minutes and hours; 0.0001 makes 12 h about 4 s). ``always_report`` mirrors the terminal
    setting "Always report transaction": declined payments are posted to the webhook too.
    ``strict_fields`` refuses unknown JSON keys, as the v11 schemas declare
    ``additionalProperties: false``. ``state_dir``: keep pages, tokens, deals and webhook
    records in a snapshot file there, so a restarted sandbox still knows its tokens; ``None``
    keeps everything in memory (see :mod:`~fitdata_adapters.cardcom_sandbox.persistence`).
    """

    terminal_number: int = 1000
    api_name: str = "fitdata-sandbox"
    public_base_url: str | None = None
    time_scale: float = 1.0
    always_report: bool = True
    strict_fields: bool = True
    state_dir: Path | None = None
