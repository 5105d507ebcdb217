"""The activation migration on a database with shops in it: every shop that exists is
activated (since its creation, so nothing already flowing stops), and documents may wait
for activation. Found by its name, so its number may change."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from gateway.db import connect
from gateway.migrate import apply_pending, load_migrations


@pytest.fixture
async def database(admin_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    name = f"gateway_test_mig_{secrets.token_hex(4)}"
    admin = await connect(admin_database_url, application_name="gateway-tests")
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await connect(admin_database_url.rsplit("/", 1)[0] + f"/{name}", application_name="t")
    try:
        yield conn
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_existing_shops_are_activated_since_their_creation(
    database: asyncpg.Connection,
) -> None:
    migrations = load_migrations()
    [activation] = [m for m in migrations if m.name == "activation"]
    await apply_pending(database, [m for m in migrations if m.version < activation.version])
    created = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    live_since = datetime(2026, 4, 1, 12, tzinfo=UTC)
    for slug, activated_at in (("setting-up", None), ("live", live_since)):
        await database.execute(
            "INSERT INTO shops (name, slug, ingest_secret_enc, created_at, activated_at) "
            "VALUES ($1, $1, 'unused', $2, $3)",
            slug,
            created,
            activated_at,
        )

    await apply_pending(database, migrations)

    rows = await database.fetch("SELECT slug, activated_at, time_zone FROM shops ORDER BY slug")
    assert [(r["slug"], r["activated_at"], r["time_zone"]) for r in rows] == [
        ("live", live_since, "Europe/Copenhagen"),
        ("setting-up", created, "Europe/Copenhagen"),
    ]
    check = await database.fetchval(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conname = 'documents_state_check'"
    )
    assert "'awaiting_activation'" in check and "'needs_reconnect'" in check
    with pytest.raises(asyncpg.CheckViolationError):
        await database.execute("UPDATE shops SET time_zone = 'Europe/../etc' WHERE slug = 'live'")
