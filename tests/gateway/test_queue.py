"""`gateway.queue`: the one place jobs are enqueued. Its one-round-trip script writes what
arq's own `enqueue_job` writes, leaves a queued, running or finished attempt alone, and a
Redis that is down only costs a log line (the sweeper finds the rows)."""

from __future__ import annotations

import pytest
from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import Job

from gateway import queue
from gateway.queue import POST_DOCUMENT, QUEUE_NAME, create_redis, enqueue_posts, post_job_id


async def test_enqueueing_writes_what_arqs_enqueue_job_writes(redis: ArqRedis) -> None:
    assert await enqueue_posts(redis, [(7, 0), (8, 2)]) == 2
    theirs = await redis.enqueue_job(POST_DOCUMENT, 9, _job_id=post_job_id(9, 1))
    assert theirs is not None
    for document_id, attempts in ((7, 0), (8, 2), (9, 1)):
        job_id = f"documents.post:{document_id}:{attempts}"
        assert job_id == post_job_id(document_id, attempts)
        info = await Job(job_id, redis, _queue_name=QUEUE_NAME).info()
        assert info is not None
        assert (info.function, info.args, info.kwargs) == (POST_DOCUMENT, (document_id,), {})
        assert info.job_try is None
        assert info.score == int(info.enqueue_time.timestamp() * 1000)
        # arq keeps a job for a day (its expires_extra_ms) unless the job says otherwise.
        ttl = await redis.pttl(job_key_prefix + job_id)
        assert redis.expires_extra_ms - 60_000 < ttl <= redis.expires_extra_ms
    # Whoever wrote it, arq's own enqueue_job sees the job as taken.
    assert await redis.enqueue_job(POST_DOCUMENT, 7, _job_id=post_job_id(7, 0)) is None
    assert await redis.zcard(QUEUE_NAME) == 3


async def test_an_enqueued_or_finished_job_is_left_alone(redis: ArqRedis) -> None:
    queued, finished = post_job_id(7, 0), post_job_id(8, 0)
    await enqueue_posts(redis, [(7, 0)])
    await redis.zrem(QUEUE_NAME, queued)  # a worker took it: the job key stays
    await redis.set(result_key_prefix + finished, b"result")
    first = await redis.get(job_key_prefix + queued)
    assert await enqueue_posts(redis, [(7, 0), (8, 0)]) == 0
    assert await redis.get(job_key_prefix + queued) == first
    assert not await redis.exists(job_key_prefix + finished)
    assert await redis.zcard(QUEUE_NAME) == 0
    assert await enqueue_posts(redis, [(9, 0), (7, 1)]) == 2
    assert set(await redis.zrange(QUEUE_NAME, 0, -1)) == {
        b"documents.post:9:0",
        b"documents.post:7:1",
    }


async def test_enqueueing_with_redis_down_only_logs(caplog: pytest.LogCaptureFixture) -> None:
    down = create_redis("redis://127.0.0.1:1/0")
    try:
        assert await enqueue_posts(down, [(7, 0)], wait_at_most=1.0) == 0
    finally:
        await down.aclose()
    assert "could not enqueue documents [7]" in caplog.text
    assert "the sweeper will pick them up" in caplog.text


def test_the_queue_refuses_an_arq_whose_key_layout_it_does_not_know(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib

    import arq.version

    monkeypatch.setattr(arq.version, "VERSION", "0.29.0")
    with pytest.raises(ImportError, match=r"arq 0\.29\.0 is installed"):
        importlib.reload(queue)
    monkeypatch.undo()
    importlib.reload(queue)
