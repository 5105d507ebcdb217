"""What every benchmark runs in: a database of its own and an empty Redis database."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import redis as sync_redis

from gateway.db import connect
from gateway.migrate import migrate


def with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


@contextlib.asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """A migrated database with a random name on `server_url`'s server, dropped after."""
    name = f"gateway_bench_{secrets.token_hex(4)}"
    admin = await connect(server_url, application_name="bench")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = with_path(server_url, f"/{name}")
        await migrate(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@contextlib.contextmanager
def empty_redis(base_url: str) -> Iterator[str]:
    """An empty Redis database number, claimed for the run and emptied after it."""
    for number in range(14, 0, -1):
        url = with_path(base_url, f"/{number}")
        client = sync_redis.Redis.from_url(url)
        try:
            if client.dbsize() == 0 and client.set("gateway:bench-claim", "1", nx=True, ex=3600):
                try:
                    yield url
                finally:
                    client.flushdb()
                return
        finally:
            client.close()
    raise SystemExit("no empty Redis database (1-14) to run in")
