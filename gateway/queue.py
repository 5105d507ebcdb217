"""Redis, as both processes use it: arq's queue, the names of its jobs, and the one place
jobs are enqueued.

The web process builds its client without connecting, so it starts (and keeps accepting
orders) while Redis is down; Postgres remembers what is owed and the sweeper catches up.

Job names are stable strings, spelt only here: the web process enqueues by name and never
imports worker code, and `workers.settings` registers each function under its name.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from typing import Final

from arq.connections import ArqRedis, RedisSettings
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from arq.version import VERSION as ARQ_VERSION
from redis.commands.core import AsyncScript

log = logging.getLogger(__name__)

# Our own name, not arq's default, so another arq app on the same Redis never takes our jobs.
QUEUE_NAME: Final = "gateway:queue"

POST_DOCUMENT: Final = "documents.post"
SWEEP_DOCUMENTS: Final = "documents.sweep"
CONFIRM_PAYMENTS: Final = "documents.confirm_payments"
REFRESH_CONNECTIONS: Final = "connections.refresh_due"
CLEANUP: Final = "system.cleanup"
RECONCILE_SOURCES: Final = "sources.reconcile_due"
BACKFILL_SOURCES: Final = "sources.backfill_due"
SEND_MAIL: Final = "mail.run"


def create_redis(redis_url: str) -> ArqRedis:
    client: ArqRedis = ArqRedis.from_url(
        redis_url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
    )
    client.default_queue_name = QUEUE_NAME
    return client


def redis_settings(redis_url: str) -> RedisSettings:
    """arq's worker settings for the same URL. arq connects itself, without retries of its
    own: the worker retries for as long as Redis is away (`workers.steady`)."""
    settings = RedisSettings.from_dsn(redis_url)
    settings.conn_timeout = 2
    settings.conn_retries = 0
    return settings


def post_job_id(document_id: int, attempts: int) -> str:
    """The job id carries the attempt count, so a document is in arq's queue at most once
    per attempt, whoever enqueues it."""
    return f"{POST_DOCUMENT}:{document_id}:{attempts}"


# arq's `enqueue_job` for jobs without a delay, in one round trip instead of three (WATCH,
# EXISTS, MULTI/EXEC) and for every document at once: the same keys and values, and a job id
# that exists (queued, running, or with its result kept) is left alone. Atomic in Redis,
# where arq relies on WATCH. KEYS: the queue, then each job's job key and result key; ARGV:
# expiry ms, score (the enqueue time), then each job's id and pickled job.
_ENQUEUE_LUA: Final = """
local added = 0
for i = 2, #KEYS, 2 do  -- job i/2: keys i, i + 1; id and job ARGV[i + 1], ARGV[i + 2]
    if redis.call('EXISTS', KEYS[i], KEYS[i + 1]) == 0 then
        redis.call('PSETEX', KEYS[i], ARGV[1], ARGV[i + 2])
        redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i + 1])
        added = added + 1
    end
end
return added
"""
# The script writes arq 0.28's layout. Another arq may lay its keys out otherwise, and
# workers would then never see what the web enqueued: refuse to start instead.
# (tests/gateway/test_queue.py compares the script's keys and values with arq's own enqueue_job.)
if not ARQ_VERSION.startswith("0.28.") or (job_key_prefix, result_key_prefix) != (
    "arq:job:",
    "arq:result:",
):
    raise ImportError(
        f"gateway.queue writes arq 0.28's key layout, but arq {ARQ_VERSION} is installed: "
        "check _ENQUEUE_LUA against arq's ArqRedis.enqueue_job, then the version check"
    )


# Each client's script object, made once: making one hashes the script again.
_ENQUEUE_SCRIPTS: weakref.WeakKeyDictionary[ArqRedis, AsyncScript] = weakref.WeakKeyDictionary()


def _enqueue_script(redis: ArqRedis) -> AsyncScript:
    script = _ENQUEUE_SCRIPTS.get(redis)
    if script is None:
        script = _ENQUEUE_SCRIPTS[redis] = redis.register_script(_ENQUEUE_LUA)
    return script


async def enqueue_posts(
    redis: ArqRedis, documents: Sequence[tuple[int, int]], *, wait_at_most: float | None = None
) -> int:
    """Wakes a worker for each `(document id, attempts)`: what
    `redis.enqueue_job(POST_DOCUMENT, id, _job_id=post_job_id(id, attempts))` does for each,
    in one round trip. Answers how many jobs were new. Call after the commit that made the
    documents due. A Redis failure (down, or slower than `wait_at_most` seconds) is logged and
    answers 0: the rows are queued in Postgres and the sweeper finds them."""
    if not documents:
        return 0
    enqueued_at = timestamp_ms()
    keys: list[str] = [redis.default_queue_name]
    args: list[str | int | bytes] = [redis.expires_extra_ms, enqueued_at]
    for document_id, attempts in documents:
        job_id = post_job_id(document_id, attempts)
        keys += [job_key_prefix + job_id, result_key_prefix + job_id]
        job = serialize_job(
            POST_DOCUMENT, (document_id,), {}, None, enqueued_at, serializer=redis.job_serializer
        )
        args += [job_id, job]
    try:
        async with asyncio.timeout(wait_at_most):
            added = await _enqueue_script(redis)(keys, args)
    except Exception as exc:  # any Redis failure: the sweeper is the safety net
        log.warning(
            "could not enqueue documents %s (%s); the sweeper will pick them up",
            [document_id for document_id, _ in documents],
            type(exc).__name__,
        )
        return 0
    return int(added)
