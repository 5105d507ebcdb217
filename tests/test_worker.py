import inspect
import json

from arq.connections import ArqRedis
from arq.worker import Worker

from gateway.db import Pool
from gateway.settings import Settings
from workers.settings import WorkerSettings, build_worker
from workers.system import HEARTBEAT_PREFIX


def test_every_worker_setting_is_one_arq_knows() -> None:
    # arq silently ignores attributes it does not know; a typo would be a setting never applied.
    known = set(inspect.signature(Worker.__init__).parameters)
    ours = {name for name in vars(WorkerSettings) if not name.startswith("_")}
    assert ours <= known, f"unknown to arq: {sorted(ours - known)}"


async def test_worker_runs_a_job_in_burst_mode(
    settings: Settings, redis: ArqRedis, pool: Pool
) -> None:
    job = await redis.enqueue_job("system.heartbeat", _job_id="heartbeat-test")
    assert job is not None
    # Without crons: in burst mode arq would run every cron tick it finds due, too.
    worker = build_worker(settings, cron_jobs=[], burst=True, poll_delay=0.01, handle_signals=False)
    try:
        await worker.main()
    finally:
        await worker.close()
    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    worker_id = await job.result(timeout=5)
    beat = json.loads(await redis.get(HEARTBEAT_PREFIX + worker_id))
    assert beat["worker"] == worker_id
    assert 0 < await redis.ttl(HEARTBEAT_PREFIX + worker_id) <= 60


def test_heartbeat_runs_as_a_cron() -> None:
    assert [c.name for c in WorkerSettings.cron_jobs] == ["system.heartbeat"]
