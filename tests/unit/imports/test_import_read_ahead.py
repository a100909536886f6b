"""The engine reads a source's next page while it stages the one in hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from fitdata_core.errors import ProviderError
from fitdata_core.usecases.imports.engine import _ReadAhead


def _listing(
    asked: list[int], pages: int, *, fail_at: int | None = None
) -> AsyncIterator[list[int]]:
    async def gen() -> AsyncIterator[list[int]]:
        for number in range(pages):
            asked.append(number)
            await asyncio.sleep(0)
            if number == fail_at:
                raise ProviderError("arbox", "the source is down")
            yield [number]

    return gen()


async def test_the_next_page_is_asked_for_while_the_page_in_hand_is_staged() -> None:
    asked: list[int] = []
    pages = _ReadAhead(_listing(asked, 3))
    assert await anext(pages) == [0]
    await asyncio.sleep(0.01)  # staging the page in hand
    assert asked == [0, 1]  # page 1 is on its way already, and only page 1
    assert [page async for page in pages] == [[1], [2]]
    assert asked == [0, 1, 2]


async def test_a_failed_page_fails_when_it_is_asked_for_and_closing_stops_reading() -> None:
    asked: list[int] = []
    pages = _ReadAhead(_listing(asked, 5, fail_at=1))
    assert await anext(pages) == [0]
    await asyncio.sleep(0.01)
    with pytest.raises(ProviderError):
        await anext(pages)
    quiet = _ReadAhead(_listing([], 5))
    await anext(quiet)
    quiet.close()  # an abandoned listing: its page ahead is cancelled, not left failing
    await asyncio.sleep(0.01)
