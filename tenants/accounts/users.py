"""Users, and the single-use links (invites, password resets) that let them in."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Literal
from uuid import UUID

import asyncpg

from gateway.db import Connection, Pool

TokenPurpose = Literal["invite", "password_reset"]
INVITE_TTL: Final = timedelta(days=7)
RESET_TTL: Final = timedelta(hours=24)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidEmailError(ValueError):
    pass


@dataclass(frozen=True)
class User:
    id: UUID
    email: str
    name: str
    is_platform_admin: bool
    locale: str | None
    password_hash: str | None = field(repr=False)

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None


_COLUMNS: Final = "id, email, name, is_platform_admin, locale, password_hash"


def normalize_email(email: str) -> str:
    normalized = email.strip().lower()
    if len(normalized) > 254 or not _EMAIL.match(normalized):
        raise InvalidEmailError(f"{email!r} is not an e-mail address")
    return normalized


def _user(row: asyncpg.Record) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        is_platform_admin=row["is_platform_admin"],
        locale=row["locale"],
        password_hash=row["password_hash"],
    )


async def get_by_email(conn: Connection, email: str) -> User | None:
    query = f"SELECT {_COLUMNS} FROM users WHERE email = $1"  # noqa: S608 - constant columns
    row = await conn.fetchrow(query, normalize_email(email))
    return _user(row) if row else None


async def create_user(
    conn: Connection,
    *,
    email: str,
    password_hash: str | None = None,
    is_platform_admin: bool = False,
    name: str = "",
) -> User:
    row = await conn.fetchrow(
        f"""
        INSERT INTO users (email, password_hash, is_platform_admin, name)
        VALUES ($1, $2, $3, $4)
        RETURNING {_COLUMNS}
        """,  # noqa: S608 - constant column list, values are $n parameters
        normalize_email(email),
        password_hash,
        is_platform_admin,
        name,
    )
    assert row is not None
    return _user(row)


async def upsert_admin(conn: Connection, *, email: str, password_hash: str) -> tuple[User, bool]:
    """Creates a platform admin, or promotes an existing user and sets the password.

    A new password ends the user's sessions and spends their open links, as any password
    reset must. Run inside a transaction. Returns the user and whether it was created.
    """
    row = await conn.fetchrow(
        f"""
        INSERT INTO users (email, password_hash, is_platform_admin)
        VALUES ($1, $2, true)
        ON CONFLICT (email) DO UPDATE
            SET password_hash = EXCLUDED.password_hash, is_platform_admin = true
        RETURNING {_COLUMNS}, (xmax = 0) AS created
        """,  # noqa: S608 - constant column list, values are $n parameters
        normalize_email(email),
        password_hash,
    )
    assert row is not None
    user, created = _user(row), bool(row["created"])
    if not created:
        await end_sessions_and_links(conn, user.id)
    return user, created


async def end_sessions_and_links(conn: Connection, user_id: UUID) -> None:
    await conn.execute("DELETE FROM sessions WHERE user_id = $1", user_id)
    await conn.execute(
        "UPDATE user_tokens SET used_at = now() WHERE user_id = $1 AND used_at IS NULL", user_id
    )


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def issue_token(
    conn: Connection,
    *,
    user_id: UUID,
    purpose: TokenPurpose,
    created_by: UUID | None = None,
    now: datetime | None = None,
) -> str:
    """Stores the hash of a new single-use link token and returns the token itself."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    ttl = INVITE_TTL if purpose == "invite" else RESET_TTL
    await conn.execute(
        """
        INSERT INTO user_tokens (token_hash, user_id, purpose, created_by, created_at, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        hash_token(token),
        user_id,
        purpose,
        created_by,
        now,
        now + ttl,
    )
    return token


async def open_link(pool: Pool, token: str, purpose: TokenPurpose, *, now: datetime) -> User | None:
    """The user an unused, unexpired link of this purpose belongs to."""
    row = await pool.fetchrow(
        "SELECT u.id, u.email, u.name, u.is_platform_admin, u.locale, u.password_hash "
        "FROM user_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE t.token_hash = $1 AND t.purpose = $2 AND t.used_at IS NULL "
        "AND t.expires_at > $3 AND u.disabled_at IS NULL",
        hash_token(token),
        purpose,
        now,
    )
    return _user(row) if row else None


async def redeem_link(
    conn: Connection,
    token: str,
    purpose: TokenPurpose,
    password_hash: str,
    *,
    now: datetime,
) -> UUID | None:
    """Spends the link and sets the password; ends every session and spends every other
    open link of the user. None when the link was spent or expired meanwhile. Run inside a
    transaction."""
    user_id: UUID | None = await conn.fetchval(
        "UPDATE user_tokens SET used_at = $3 WHERE token_hash = $1 AND purpose = $2 "
        "AND used_at IS NULL AND expires_at > $3 RETURNING user_id",
        hash_token(token),
        purpose,
        now,
    )
    if user_id is None:
        return None
    await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)
    await end_sessions_and_links(conn, user_id)
    return user_id


async def set_locale(conn: Connection | Pool, user_id: UUID, locale: str) -> None:
    await conn.execute("UPDATE users SET locale = $2 WHERE id = $1", user_id, locale)
