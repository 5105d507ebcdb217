"""The asyncpg pool, set up the same way for the web app, the worker and the CLI.

JSON columns never turn money into floats: a JSON number is read back as `Decimal`, and a
`Decimal` is written as a decimal string (the form the ingest contract uses for money), so it
reads back as that string. Every session runs in UTC.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, TypeAlias

import asyncpg
import asyncpg.pool

# Strings, because asyncpg's classes are generic only to the type checker.
Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
# A connection of our own, or one lent by the pool: queries take either.
Connection: TypeAlias = (
    "asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
)


def _json_default(value: object) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: object) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)


def loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


async def _init_connection(conn: Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, schema="pg_catalog", encoder=dumps, decoder=loads, format="text"
        )


async def create_pool(
    database_url: str, *, application_name: str, min_size: int = 0, max_size: int = 10
) -> Pool:
    """A pool that connects when first asked, so a process starts while Postgres is away.

    No floor of idle connections (`min_size` 0) by default: asyncpg would keep restoring one
    during an outage and log a traceback each time it fails. A connection that an outage cut
    off is replaced on the next acquire.
    """
    pool = await asyncpg.create_pool(
        dsn=database_url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        command_timeout=30,
        server_settings={"timezone": "UTC", "application_name": application_name},
    )
    assert pool is not None
    return pool


async def connect(
    database_url: str, *, application_name: str
) -> asyncpg.Connection[asyncpg.Record]:
    """One connection (for the CLI and migrations), configured like the pool's."""
    conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
        dsn=database_url,
        server_settings={"timezone": "UTC", "application_name": application_name},
    )
    await _init_connection(conn)
    return conn
