import asyncio
import contextlib
import inspect
import json
import uuid
from datetime import UTC, datetime, timedelta

from arq.connections import ArqRedis
from arq.worker import Worker

from gateway.db import Pool
from gateway.queue import QUEUE_NAME
from gateway.settings import Settings
from tests.factories import make_user
from workers import system
from workers.settings import WorkerSettings, build_worker


def test_every_worker_setting_is_one_arq_knows() -> None:
    # arq silently ignores attributes it does not know; a typo would be a setting never applied.
    known = set(inspect.signature(Worker.__init__).parameters)
    ours = {name for name in vars(WorkerSettings) if not name.startswith("_")}
    assert ours <= known, f"unknown to arq: {sorted(ours - known)}"


async def test_real_worker_runs_cleanup_in_burst_mode(
    settings: Settings, redis: ArqRedis, pool: Pool
) -> None:
    user = await make_user(pool)
    now = datetime.now(UTC)
    for expires in (now - timedelta(minutes=1), now + timedelta(days=1)):
        await pool.execute(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) "
            "VALUES ($1, $2, 'csrf', $3, $4)",
            uuid.uuid4().bytes * 2,
            user.id,
            expires - timedelta(days=2),
            expires,
        )
    job = await redis.enqueue_job("system.cleanup", _job_id="cleanup-test")
    assert job is not None
    worker = build_worker(settings, burst=True, poll_delay=0.01, handle_signals=False)
    assert worker.queue_name == QUEUE_NAME
    try:
        await worker.main()
    finally:
        await worker.close()
    # Crons (the sweeper runs every 2 s) may run beside it: count failures, not jobs.
    assert worker.jobs_failed == 0
    assert await pool.fetchval("SELECT count(*) FROM sessions") == 1
    assert await pool.fetchval("SELECT min(expires_at) > now() FROM sessions")


async def test_heartbeat_marks_this_process_alive(redis: ArqRedis, pool: Pool) -> None:
    ident = f"test-host:{uuid.uuid4().hex[:6]}"
    task = asyncio.create_task(system.heartbeat_forever(redis, pool, ident))
    try:
        async with asyncio.timeout(5):
            while not await redis.exists(system.HEARTBEAT_PREFIX + ident):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    beat = json.loads(await redis.get(system.HEARTBEAT_PREFIX + ident))
    assert beat["worker"] == ident
    assert 0 < await redis.ttl(system.HEARTBEAT_PREFIX + ident) <= system.HEARTBEAT_TTL
    assert await system.live_workers(redis, host="test-host") == [ident]
    assert await system.live_workers(redis, host="other-host") == []


async def test_worker_startup_and_shutdown_manage_resources(
    settings: Settings, redis: ArqRedis, pool: Pool
) -> None:
    worker = build_worker(settings, burst=True, poll_delay=0.01, handle_signals=False)
    try:
        await worker.main()  # nothing queued: starts up, finds no work, stops
        ctx = worker.ctx
        assert ctx["pool"].get_max_size() >= WorkerSettings.max_jobs
    finally:
        await worker.close()
    assert ctx["http"].is_closed
    assert ctx["heartbeat"].done()
    assert not await redis.exists(system.HEARTBEAT_PREFIX + ctx["worker_id"])
