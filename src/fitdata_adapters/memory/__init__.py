"""In-memory implementations of every port, for unit tests and quick experiments."""

from fitdata_adapters.memory.infrastructure import (
    MemoryErrorReporter,
    MemoryJobQueue,
    MemoryRateLimiter,
)
from fitdata_adapters.memory.payments import MemoryPaymentGateway
from fitdata_adapters.memory.services import memory_services
from fitdata_adapters.memory.uow import MemoryDatabase, MemoryUnitOfWork, MemoryUnitOfWorkFactory

__all__ = [
    "MemoryDatabase",
    "MemoryErrorReporter",
    "MemoryJobQueue",
    "MemoryPaymentGateway",
    "MemoryRateLimiter",
    "MemoryUnitOfWork",
    "MemoryUnitOfWorkFactory",
    "memory_services",
]
