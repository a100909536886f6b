"""Fixtures of the import tests: the Arbox sandbox (one thread per module, reset for each
test) and a world over Postgres that imports from it (``support.arbox_world``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from fitdata_adapters.arbox_sandbox import SandboxThread
from support.arbox_world import SANDBOX, World, arbox_world


@pytest.fixture(scope="module")
def arbox() -> Iterator[SandboxThread]:
    with SandboxThread(SANDBOX) as thread:
        yield thread


@pytest.fixture
async def world(tmp_path: Path, clean_pg_url: str, arbox: SandboxThread) -> AsyncIterator[World]:
    async with arbox_world(tmp_path, clean_pg_url, arbox) as found:
        yield found


@pytest.fixture
async def one_step_world(
    tmp_path: Path, clean_pg_url: str, arbox: SandboxThread
) -> AsyncIterator[World]:
    """A world whose queue messages run one step each, so a test can act between steps
    (``run_import`` runs one)."""
    async with arbox_world(tmp_path, clean_pg_url, arbox, slice_batches=1) as found:
        yield found
