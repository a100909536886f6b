"""Cardcom (REST API v11) payment-gateway adapter.

``CardcomGateway`` implements ``fitdata_core.ports.providers.PaymentGateway``; ``CardcomProtocol``
holds the pure request/response rules; ``RetryPolicy`` is the single tenacity policy.
"""

from fitdata_adapters.cardcom.gateway import CardcomGateway
from fitdata_adapters.cardcom.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from fitdata_adapters.cardcom.wire import (
    ISO_COIN_IDS,
    CardcomProtocol,
    iso_coin_id,
    webhook_low_profile_id,
)

__all__ = [
    "DEFAULT_RETRY_POLICY",
    "ISO_COIN_IDS",
    "CardcomGateway",
    "CardcomProtocol",
    "RetryPolicy",
    "iso_coin_id",
    "webhook_low_profile_id",
]
