from cli import demo
from gateway import passwords
from gateway.db import Pool
from gateway.vault import Vault
from tenants.accounts import users


async def test_seed_is_idempotent(pool: Pool, vault: Vault) -> None:
    first = await demo.seed(pool, vault)
    second = await demo.seed(pool, vault)
    assert [s.name for s in first] == list(demo.SHOP_NAMES)
    assert [(s.id, s.ingest_secret) for s in first] == [(s.id, s.ingest_secret) for s in second]
    assert await pool.fetchval("SELECT count(*) FROM users") == 2
    assert await pool.fetchval("SELECT count(*) FROM shops") == 2
    async with pool.acquire() as conn:
        admin = await users.get_by_email(conn, demo.ADMIN_EMAIL)
        owner = await users.get_by_email(conn, demo.OWNER_EMAIL)
    assert admin is not None and admin.is_platform_admin
    assert owner is not None and not owner.is_platform_admin
    assert passwords.verify_password(demo.OWNER_PASSWORD, owner.password_hash)
    owned = await pool.fetchval(
        "SELECT count(*) FROM memberships WHERE user_id = $1 AND role = 'owner'", owner.id
    )
    assert owned == 2
