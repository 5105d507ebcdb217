"""Redis, as both processes use it: arq's queue and our own short-lived keys.

The web process builds its client without connecting, so it starts (and keeps accepting
orders) while Redis is down; Postgres remembers what is owed and the sweeper catches up.
"""

from __future__ import annotations

from typing import Final

from arq.connections import ArqRedis, RedisSettings

# Our own name, not arq's default, so another arq app on the same Redis never takes our jobs.
QUEUE_NAME: Final = "gateway:queue"


def create_redis(redis_url: str) -> ArqRedis:
    client: ArqRedis = ArqRedis.from_url(
        redis_url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
    )
    client.default_queue_name = QUEUE_NAME
    return client


def redis_settings(redis_url: str) -> RedisSettings:
    """arq's worker settings for the same URL (it connects itself, with retries)."""
    settings = RedisSettings.from_dsn(redis_url)
    settings.conn_timeout = 2
    return settings
