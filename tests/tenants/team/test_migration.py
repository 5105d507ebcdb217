"""The team migration: memberships that were 'viewer' become 'bookkeeper'; nothing else moves."""

from __future__ import annotations

from gateway.db import connect
from gateway.migrate import apply_pending, load_migrations
from tests.gateway.test_migrate import empty_database

__all__ = ["empty_database"]  # the fixture, used by name below


async def test_viewers_become_bookkeepers_and_owners_stay_owners(empty_database: str) -> None:
    team = next(m.version for m in load_migrations() if m.name == "team")
    before = [m for m in load_migrations() if m.version < team]
    conn = await connect(empty_database, application_name="t")
    try:
        await apply_pending(conn, before)
        await conn.execute(
            "INSERT INTO users (email) VALUES ('owner@example.dk'), ('viewer@example.dk')"
        )
        await conn.execute(
            "INSERT INTO shops (name, slug, ingest_secret_enc) VALUES ('Sokkeriet', 's', 'x')"
        )
        await conn.execute(
            "INSERT INTO memberships (user_id, shop_id, role) "
            "SELECT u.id, s.id, CASE WHEN u.email LIKE 'owner%' THEN 'owner' ELSE 'viewer' END "
            "FROM users u, shops s"
        )
        await apply_pending(conn, load_migrations())
        rows = await conn.fetch(
            "SELECT u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id "
            "ORDER BY u.email"
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [
        ("owner@example.dk", "owner"),
        ("viewer@example.dk", "bookkeeper"),
    ]
