import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from gateway.db import connect
from gateway.migrate import MigrationError, apply_pending, load_migrations, migrate


@pytest.fixture
async def empty_database(admin_database_url: str) -> AsyncIterator[str]:
    name = f"gateway_test_mig_{secrets.token_hex(4)}"
    admin = await connect(admin_database_url, application_name="gateway-tests")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_database_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def test_migration_files_are_numbered_in_order() -> None:
    migrations = load_migrations()
    assert migrations, "no migrations found in the package"
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))


async def test_applies_once_and_records_each_migration(empty_database: str) -> None:
    applied = await migrate(empty_database)
    assert [m.version for m in applied] == [m.version for m in load_migrations()]
    assert await migrate(empty_database) == []
    conn = await connect(empty_database, application_name="t")
    try:
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY 1")
    finally:
        await conn.close()
    assert [(r["version"], r["checksum"]) for r in rows] == [
        (m.version, m.checksum) for m in load_migrations()
    ]


async def test_concurrent_migrations_take_turns(empty_database: str) -> None:
    results = await asyncio.gather(*(migrate(empty_database) for _ in range(4)))
    applied = sorted(len(r) for r in results)
    assert applied == [0, 0, 0, len(load_migrations())]


async def test_changed_migration_is_reported(empty_database: str) -> None:
    await migrate(empty_database)
    changed = [replace(m, sql=m.sql + "\n-- edited") for m in load_migrations()]
    conn = await connect(empty_database, application_name="t")
    try:
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await apply_pending(conn, changed)
    finally:
        await conn.close()


async def test_failed_migration_leaves_nothing_behind(empty_database: str) -> None:
    broken = [*load_migrations()]
    broken.append(
        replace(
            broken[-1],
            version=broken[-1].version + 1,
            name="broken",
            sql="CREATE TABLE half_done (id int); SELECT 1/0;",
        )
    )
    conn = await connect(empty_database, application_name="t")
    try:
        with pytest.raises(Exception, match="division by zero"):
            await apply_pending(conn, broken)
        assert await conn.fetchval("SELECT to_regclass('half_done')") is None
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == len(broken) - 1
    finally:
        await conn.close()


async def test_no_transaction_migration_can_build_an_index_concurrently(
    empty_database: str,
) -> None:
    migrations = load_migrations()
    concurrent = replace(
        migrations[-1],
        version=migrations[-1].version + 1,
        name="concurrent_index",
        sql="-- migrate: no-transaction\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users (name);",
    )
    assert not concurrent.in_transaction
    conn = await connect(empty_database, application_name="t")
    try:
        await apply_pending(conn, [*migrations, concurrent])
        assert await conn.fetchval("SELECT to_regclass('users_name_idx')") is not None
    finally:
        await conn.close()
