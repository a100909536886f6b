"""A local Cardcom (REST API v11) sandbox speaking the real wire protocol.

Paths (case-insensitive) under ``/api/v11/``: ``LowProfile/Create``, ``LowProfile/GetLpResult``,
``Transactions/Transaction`` and ``Transactions/GetTransactionByExternalUniqTran``; a hosted
payment page at ``/EA/LPC6/<terminal>/<LowProfileId>``; webhooks with Cardcom's retry schedule;
test controls under ``/_sandbox/`` (see :data:`CONTROLS`). In memory by default; with
``SandboxConfig(state_dir=...)`` pages, tokens and deals survive a restart (see
:mod:`~fitdata_adapters.cardcom_sandbox.persistence`).

Magic cards: ``4580280000000008`` approves (below 5000), ``4000000000000002`` always declines,
``4000000000000341`` pays but its token declines on later charges. Amounts ≥ 5000 decline.
"""

from fitdata_adapters.cardcom_sandbox.app import SandboxApp, create_sandbox_app
from fitdata_adapters.cardcom_sandbox.cards import (
    ALWAYS_DECLINED_CARD,
    DECLINE_AMOUNT_THRESHOLD,
    FOREIGN_TEST_CARD,
    TEST_CARD,
    TOKEN_DECLINES_LATER_CARD,
)
from fitdata_adapters.cardcom_sandbox.config import SandboxConfig
from fitdata_adapters.cardcom_sandbox.control import CONTROLS
from fitdata_adapters.cardcom_sandbox.engine import CardcomSandbox
from fitdata_adapters.cardcom_sandbox.persistence import SandboxStateError, SandboxStateInUse
from fitdata_adapters.cardcom_sandbox.server import SandboxThread, run_sandbox
from fitdata_adapters.cardcom_sandbox.webhooks import RETRY_INTERVALS_SECONDS

__all__ = [
    "ALWAYS_DECLINED_CARD",
    "CONTROLS",
    "DECLINE_AMOUNT_THRESHOLD",
    "FOREIGN_TEST_CARD",
    "RETRY_INTERVALS_SECONDS",
    "TEST_CARD",
    "TOKEN_DECLINES_LATER_CARD",
    "CardcomSandbox",
    "SandboxApp",
    "SandboxConfig",
    "SandboxStateError",
    "SandboxStateInUse",
    "SandboxThread",
    "create_sandbox_app",
    "run_sandbox",
]
