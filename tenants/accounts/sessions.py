"""Server-side sessions: the cookie holds a random id; the table holds only its sha256.

A stolen database cannot be replayed as cookies, and logging out (or a password change)
really ends a session, which a signed-cookie session cannot promise.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from gateway import passwords
from gateway.db import Connection, Pool
from gateway.secret import Secret
from tenants.accounts import users

SESSION_TTL: Final = timedelta(days=14)
# A session seen within this long is not touched again: one write per hour, not per request.
_TOUCH_EVERY: Final = timedelta(hours=1)


@dataclass(frozen=True)
class Session:
    id_hash: bytes = field(repr=False)
    user: users.User
    csrf_token: str = field(repr=False)
    expires_at: datetime


async def create(conn: Connection | Pool, user_id: UUID, *, now: datetime) -> tuple[Secret, str]:
    """Starts a session; returns the cookie value and the session's CSRF token."""
    session_id = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, "
        "expires_at) VALUES ($1, $2, $3, $4, $4, $5)",
        users.hash_token(session_id),
        user_id,
        csrf_token,
        now,
        now + SESSION_TTL,
    )
    return Secret(session_id), csrf_token


async def load(pool: Pool, session_id: str, *, now: datetime) -> Session | None:
    """The live session for a cookie value, sliding its expiry; None when unknown or over."""
    id_hash = users.hash_token(session_id)
    row = await pool.fetchrow(
        "SELECT s.csrf_token, s.expires_at, s.last_seen_at, u.id, u.email, u.name, "
        "u.is_platform_admin, u.locale, u.password_hash "
        "FROM sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        id_hash,
        now,
    )
    if row is None:
        return None
    expires_at = row["expires_at"]
    if now - row["last_seen_at"] > _TOUCH_EVERY:
        expires_at = now + SESSION_TTL
        await pool.execute(
            "UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE id_hash = $1",
            id_hash,
            now,
            expires_at,
        )
    user = users.User(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        is_platform_admin=row["is_platform_admin"],
        locale=row["locale"],
        password_hash=row["password_hash"],
    )
    return Session(id_hash=id_hash, user=user, csrf_token=row["csrf_token"], expires_at=expires_at)


async def end(pool: Pool | Connection, session_id: str) -> None:
    await pool.execute("DELETE FROM sessions WHERE id_hash = $1", users.hash_token(session_id))


async def authenticate(pool: Pool, email: str, password: str) -> users.User | None:
    """The user whose password this is, or None; as slow for unknown e-mails as for known."""
    try:
        normalized = users.normalize_email(email)
    except ValueError:
        normalized = None
    user = None
    if normalized is not None:
        async with pool.acquire() as conn:
            user = await users.get_by_email(conn, normalized)
    stored = user.password_hash if user is not None else None
    # Unknown e-mails still pay for one scrypt, so timing does not tell who has an account.
    ok = await asyncio.to_thread(passwords.verify_password, password, stored or _decoy_hash())
    return user if ok and stored is not None else None


@functools.cache
def _decoy_hash() -> str:
    return passwords.hash_password(secrets.token_urlsafe(16))


def constant_time_equal(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode(), b.encode())
