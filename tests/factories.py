"""Factories for tenants. Passwords use a cheap scrypt cost so tests stay fast."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from functools import cache

from gateway import passwords
from gateway.db import Pool
from gateway.secret import Secret
from gateway.vault import Vault
from tenants.accounts import users
from tenants.shops import repository as shops

PASSWORD = "correct horse battery"
_CHEAP = passwords.Cost(n=2**4, r=1, p=1)


@cache
def cheap_hash(password: str = PASSWORD) -> str:
    return passwords.hash_password(password, cost=_CHEAP)


async def make_user(
    pool: Pool, *, email: str | None = None, admin: bool = False, password: str | None = PASSWORD
) -> users.User:
    async with pool.acquire() as conn:
        return await users.create_user(
            conn,
            email=email or f"user-{secrets.token_hex(4)}@example.com",
            is_platform_admin=admin,
            password_hash=cheap_hash(password) if password else None,
        )


async def make_shop(
    pool: Pool,
    vault: Vault,
    *,
    name: str | None = None,
    owner: users.User | None = None,
    activated: bool = True,
) -> tuple[shops.Shop, Secret, users.User]:
    """A shop and its owner. Activated, so its orders post as every shop's did before the
    activation gate; `activated=False` makes one still being set up (only its test order
    posts)."""
    owner = owner or await make_user(pool)
    async with pool.acquire() as conn, conn.transaction():
        shop, secret = await shops.create_shop(
            conn,
            vault,
            name=name or f"Shop {secrets.token_hex(3)}",
            owner_id=owner.id,
            activated_at=datetime.now(UTC) if activated else None,
        )
    return shop, secret, owner
