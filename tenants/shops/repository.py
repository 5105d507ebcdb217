"""Shops (the tenants), their owners, and their ingest secrets."""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID, uuid4

import asyncpg

from gateway.db import Connection, Pool
from gateway.secret import Secret
from gateway.vault import Vault, row_aad
from tenants.accounts import users
from tenants.outbox import activation
from tenants.outbox.models import Ready

SECRET_PREFIX: Final = "whsec_"


@dataclass(frozen=True)
class Shop:
    id: UUID
    name: str
    slug: str
    connection_id: UUID | None
    trigger: str
    mode: str
    document_kind: str
    invoice_text: str
    created_at: datetime
    activated_at: datetime | None  # None until the owner activates it: only its test order posts
    time_zone: str  # an IANA name: how the owner's pages show its times (stored ones are UTC)


@dataclass(frozen=True)
class CreatedShop:
    shop: Shop
    owner: users.User
    ingest_secret: Secret
    # Set when the owner has no password yet: the link that lets them choose one.
    invite_token: str | None


_COLUMNS: Final = ", ".join(Shop.__dataclass_fields__)


def _shop(row: asyncpg.Record) -> Shop:
    return Shop(**{key: row[key] for key in Shop.__dataclass_fields__})


def slugify(name: str) -> str:
    danish = name.lower().replace("æ", "ae").replace("ø", "oe").replace("å", "aa")
    ascii_name = unicodedata.normalize("NFKD", danish).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:60].strip("-")
    return slug or "shop"


def new_ingest_secret() -> Secret:
    return Secret(SECRET_PREFIX + secrets.token_urlsafe(32))


def ingest_secret_aad(shop_id: UUID) -> str:
    return row_aad("shops", "ingest_secret_enc", shop_id)


async def create_shop(
    conn: Connection,
    vault: Vault,
    *,
    name: str,
    owner_id: UUID,
    activated_at: datetime | None = None,
) -> tuple[Shop, Secret]:
    """Inserts the shop with a fresh ingest secret and makes `owner_id` its owner. A new
    shop is not activated (only its test order posts) unless `activated_at` is given.

    Run inside a transaction: the shop and its membership exist together or not at all.
    """
    name = name.strip()
    if not name:
        raise ValueError("a shop needs a name")
    shop_id = uuid4()
    secret = new_ingest_secret()
    base = slugify(name)
    taken = {
        r["slug"]
        for r in await conn.fetch(
            "SELECT slug FROM shops WHERE slug = $1 OR slug LIKE $1 || '-%'", base
        )
    }
    slug = base
    suffix = 2
    while slug in taken:
        slug = f"{base}-{suffix}"
        suffix += 1
    row = await conn.fetchrow(
        f"""
        INSERT INTO shops (id, name, slug, ingest_secret_enc, activated_at)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING {_COLUMNS}
        """,  # noqa: S608 - constant column list, values are $n parameters
        shop_id,
        name,
        slug,
        vault.encrypt(secret, aad=ingest_secret_aad(shop_id)),
        activated_at,
    )
    assert row is not None
    await conn.execute(
        "INSERT INTO memberships (user_id, shop_id, role) VALUES ($1, $2, 'owner')",
        owner_id,
        shop_id,
    )
    return _shop(row), secret


async def create_shop_for_owner(
    pool: Pool, vault: Vault, *, name: str, owner_email: str, created_by: UUID | None = None
) -> CreatedShop:
    """Creates the shop, and its owner if new, in one transaction.

    An owner without a password gets an invite token; one who already has a password
    simply gains the shop.
    """
    email = users.normalize_email(owner_email)
    async with pool.acquire() as conn, conn.transaction():
        owner = await users.get_by_email(conn, email) or await users.create_user(conn, email=email)
        shop, secret = await create_shop(conn, vault, name=name, owner_id=owner.id)
        invite = None
        if not owner.has_password:
            invite = await users.issue_token(
                conn, user_id=owner.id, purpose="invite", created_by=created_by
            )
    return CreatedShop(shop=shop, owner=owner, ingest_secret=secret, invite_token=invite)


async def ingest_secret(conn: Connection, vault: Vault, shop_id: UUID) -> Secret | None:
    ciphertext = await conn.fetchval("SELECT ingest_secret_enc FROM shops WHERE id = $1", shop_id)
    if ciphertext is None:
        return None
    return vault.decrypt(ciphertext, aad=ingest_secret_aad(shop_id))


def invite_url(base_url: str, token: str) -> str:
    return f"{base_url}/invite/{token}"


def created_shop_json(created: CreatedShop, *, base_url: str) -> dict[str, str | None]:
    """What `gateway shops create` prints: the only time the secret is shown in clear."""
    return {
        "shop_id": str(created.shop.id),
        "name": created.shop.name,
        "slug": created.shop.slug,
        "owner_email": created.owner.email,
        "ingest_secret": created.ingest_secret.reveal(),
        "ingest_url": f"{base_url}/api/v1/shops/{created.shop.id}/events",
        "invite_url": invite_url(base_url, created.invite_token) if created.invite_token else None,
    }


async def for_user(conn: Connection | Pool, user_id: UUID) -> list[Shop]:
    """The shops this user is a member of, by name."""
    rows = await conn.fetch(
        f"SELECT {', '.join('s.' + c for c in Shop.__dataclass_fields__)} "  # noqa: S608
        "FROM shops s JOIN memberships m ON m.shop_id = s.id WHERE m.user_id = $1 "
        "ORDER BY s.name, s.id",
        user_id,
    )
    return [_shop(r) for r in rows]


async def get_for_user(conn: Connection | Pool, user_id: UUID, shop_id: UUID) -> Shop | None:
    """The shop if this user is a member of it; None for a missing and a foreign shop alike."""
    found = await get_with_role(conn, user_id, shop_id)
    return found[0] if found else None


async def get_with_role(
    conn: Connection | Pool, user_id: UUID, shop_id: UUID
) -> tuple[Shop, str] | None:
    """The shop and the user's role in it; None for a missing and a foreign shop alike."""
    row = await conn.fetchrow(
        f"SELECT {', '.join('s.' + c for c in Shop.__dataclass_fields__)}, "  # noqa: S608
        "m.role AS member_role "
        "FROM shops s JOIN memberships m ON m.shop_id = s.id "
        "WHERE m.user_id = $1 AND s.id = $2",
        user_id,
        shop_id,
    )
    return (_shop(row), row["member_role"]) if row else None


async def set_connection(
    conn: Connection, shop_id: UUID, connection_id: UUID | None, *, now: datetime
) -> UUID | None:
    """Links the shop to a Dinero connection (None unlinks it) under the shop row's lock;
    answers the connection it had before. Call inside a transaction."""
    previous: UUID | None = await conn.fetchval(
        "SELECT connection_id FROM shops WHERE id = $1 FOR UPDATE", shop_id
    )
    if previous != connection_id:
        await conn.execute(
            "UPDATE shops SET connection_id = $2, updated_at = $3 WHERE id = $1",
            shop_id,
            connection_id,
            now,
        )
    return previous


@dataclass(frozen=True)
class Activated:
    released: tuple[Ready, ...]  # what waited for it, oldest first: enqueue in this order


async def activate(conn: Connection, shop_id: UUID, *, now: datetime) -> Activated | None:
    """Marks the shop as live (once) and releases the documents that waited for it; None
    when it already was live. Call inside a transaction, and enqueue what it released
    after the commit."""
    activated = await conn.fetchval(
        "UPDATE shops SET activated_at = $2, updated_at = $2 "
        "WHERE id = $1 AND activated_at IS NULL RETURNING true",
        shop_id,
        now,
    )
    if not activated:
        return None
    await conn.execute(
        "INSERT INTO events (shop_id, kind, message, created_at) "
        "VALUES ($1, 'shop.activated', 'The shop went live', $2)",
        shop_id,
        now,
    )
    released = await activation.release(conn, shop_id, now=now)
    return Activated(tuple(released))


async def document_kind(conn: Connection | Pool, shop_id: UUID) -> str | None:
    """What the shop's orders become: "invoice" or "voucher"."""
    kind: str | None = await conn.fetchval("SELECT document_kind FROM shops WHERE id = $1", shop_id)
    return kind


async def id_by_slug(conn: Connection | Pool, slug: str) -> UUID | None:
    shop_id: UUID | None = await conn.fetchval("SELECT id FROM shops WHERE slug = $1", slug)
    return shop_id
