"""Numbered SQL migrations, applied in order, each in its own transaction.

Files are `gateway/migrations/NNNN_name.sql`. Applied versions are recorded with the file's
sha256, so an edited migration that already ran is reported instead of silently skipped.
A session-level advisory lock makes concurrent `gateway migrate` runs (two containers
starting at once) take turns: the second one finds nothing left to do.

A file whose first line is `-- migrate: no-transaction` runs outside a transaction, for
statements Postgres refuses inside one (`CREATE INDEX CONCURRENTLY` on a large table). Such
a file should hold one idempotent statement (`IF NOT EXISTS`), since a failure halfway
cannot be rolled back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Final

from gateway.db import Connection, connect

log = logging.getLogger(__name__)

# Any fixed 64-bit number; it only has to differ from other advisory locks in the database.
_LOCK_KEY: Final = 0x6761_7465_7761_79  # "gateway"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_NO_TRANSACTION: Final = "-- migrate: no-transaction"
_LOCK_POLL: Final = 0.05


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def in_transaction(self) -> bool:
        return not self.sql.startswith(_NO_TRANSACTION)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    found: list[Migration] = []
    for entry in resources.files("gateway.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
        elif entry.name.endswith(".sql"):
            raise MigrationError(f"migration file {entry.name!r} is not named NNNN_name.sql")
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return found


async def migrate(database_url: str) -> list[Migration]:
    """Apply every pending migration; returns the ones this call applied."""
    conn = await connect(database_url, application_name="gateway-migrate")
    try:
        return await apply_pending(conn, load_migrations())
    finally:
        await conn.close()


async def apply_pending(conn: Connection, migrations: list[Migration]) -> list[Migration]:
    # Poll rather than block: a session blocked in `pg_advisory_lock` sits in an open
    # transaction, and `CREATE INDEX CONCURRENTLY` in the lock holder waits for every open
    # transaction to finish, which would be a deadlock.
    while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK_KEY):  # noqa: ASYNC110
        await asyncio.sleep(_LOCK_POLL)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        applied = {r["version"]: r for r in rows}
        known = {m.version for m in migrations}
        unknown = sorted(set(applied) - known)
        if unknown:
            raise MigrationError(
                f"the database has migrations this code does not know: {unknown}; "
                "is an older release running against a newer database?"
            )
        done: list[Migration] = []
        for migration in migrations:
            row = applied.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} was changed after "
                        "it was applied; add a new migration instead"
                    )
                continue
            scope = conn.transaction() if migration.in_transaction else contextlib.nullcontext()
            async with scope:
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("applied migration %04d_%s", migration.version, migration.name)
            done.append(migration)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
