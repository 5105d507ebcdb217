"""`gateway.group_commit`: callers that arrive together share one flush, each gets its own
result or error, and a result nobody waits for any more is handed back."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from gateway.group_commit import GroupCommit, Stopped


async def test_callers_that_arrive_together_share_one_flush() -> None:
    batches: list[list[int]] = []

    async def flush(items: Sequence[int]) -> list[int | BaseException]:
        batches.append(list(items))
        return [n * 10 if n != 2 else ValueError("two") for n in items]

    group: GroupCommit[int, int] = GroupCommit(flush, window=0)
    results = await asyncio.gather(*(group.submit(n) for n in (1, 2, 3)), return_exceptions=True)
    await group.stop()
    assert batches == [[1, 2, 3]]
    assert results[0] == 10 and results[2] == 30
    assert isinstance(results[1], ValueError)


async def test_a_failed_flush_fails_every_caller_of_its_batch() -> None:
    async def flush(items: Sequence[int]) -> list[int | BaseException]:
        raise ConnectionResetError("gone")

    group: GroupCommit[int, int] = GroupCommit(flush, window=0)
    results = await asyncio.gather(*(group.submit(n) for n in (1, 2)), return_exceptions=True)
    await group.stop()
    assert [type(r) for r in results] == [ConnectionResetError, ConnectionResetError]


async def test_a_result_whose_caller_went_away_is_discarded() -> None:
    release = asyncio.Event()
    discarded: list[int] = []

    async def flush(items: Sequence[int]) -> list[int | BaseException]:
        await release.wait()
        return list(items)

    group: GroupCommit[int, int] = GroupCommit(flush, window=0, discard=discarded.append)
    leaving = asyncio.ensure_future(group.submit(7))
    staying = asyncio.ensure_future(group.submit(8))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    leaving.cancel()
    release.set()
    assert await staying == 8
    await group.stop()
    assert discarded == [7]


async def test_stopping_fails_what_is_still_queued() -> None:
    async def flush(items: Sequence[int]) -> list[int | BaseException]:
        await asyncio.Event().wait()  # never ends
        return []

    group: GroupCommit[int, int] = GroupCommit(flush, window=0)
    first = asyncio.ensure_future(group.submit(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await group.stop()
    with pytest.raises(Stopped):
        await first
