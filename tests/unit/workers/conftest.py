"""Fixtures for the worker unit tests: a manual clock and Services on memory adapters."""

from __future__ import annotations

import pytest
from workers_support import START, make_services

from fitdata_adapters.clock import ManualClock
from fitdata_adapters.memory import MemoryErrorReporter, MemoryUnitOfWorkFactory
from fitdata_core.services import Services


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def uow() -> MemoryUnitOfWorkFactory:
    return MemoryUnitOfWorkFactory()


@pytest.fixture
def errors() -> MemoryErrorReporter:
    return MemoryErrorReporter()


@pytest.fixture
def svc(clock: ManualClock, uow: MemoryUnitOfWorkFactory, errors: MemoryErrorReporter) -> Services:
    return make_services(clock, uow=uow, errors=errors)
