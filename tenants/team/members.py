"""A shop's members and their roles. Every change takes the shop row's lock first, so two
owners demoting or removing each other at once take turns, and the second finds that the
shop would be left without an owner: the guard is in the statement itself, not only in
the page that offers the button."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from gateway.db import Connection, Pool
from tenants.team.roles import Role


class TeamChangeError(Exception):
    """A change the shop's team does not allow; the message says why, for the owner."""


class NotAMemberError(TeamChangeError):
    pass


class LastOwnerError(TeamChangeError):
    pass


@dataclass(frozen=True)
class Member:
    user_id: UUID
    email: str
    role: Role
    joined_at: datetime
    has_password: bool


async def members(conn: Connection | Pool, shop_id: UUID) -> list[Member]:
    """The shop's members, owners first, then by e-mail."""
    rows = await conn.fetch(
        "SELECT u.id AS user_id, u.email, m.role, m.created_at AS joined_at, "
        "u.password_hash IS NOT NULL AS has_password "
        "FROM memberships m JOIN users u ON u.id = m.user_id "
        "WHERE m.shop_id = $1 ORDER BY m.role <> 'owner', u.email",
        shop_id,
    )
    return [Member(**dict(row)) for row in rows]


async def role_of(conn: Connection | Pool, shop_id: UUID, user_id: UUID) -> Role | None:
    role: Role | None = await conn.fetchval(
        "SELECT role FROM memberships WHERE shop_id = $1 AND user_id = $2", shop_id, user_id
    )
    return role


async def lock_team(conn: Connection, shop_id: UUID) -> None:
    """Serialises changes to the shop's team (inside a transaction)."""
    await conn.execute("SELECT 1 FROM shops WHERE id = $1 FOR UPDATE", shop_id)


# The shop keeps an owner: a member who is not an owner, or an owner beside whom another
# owner stays, may lose the owner role.
_KEEPS_AN_OWNER = (
    "(m.role <> 'owner' OR (SELECT count(*) FROM memberships o "
    "WHERE o.shop_id = m.shop_id AND o.role = 'owner') > 1)"
)


async def change_role(
    conn: Connection, shop_id: UUID, user_id: UUID, role: Role
) -> tuple[Member, Role | None]:
    """Gives the member `role`; answers the member as now, and the role they had. Run
    inside a transaction."""
    await lock_team(conn, shop_id)
    before = await role_of(conn, shop_id, user_id)
    updated = await conn.fetchval(
        "UPDATE memberships m SET role = $3 WHERE m.shop_id = $1 AND m.user_id = $2 "  # noqa: S608
        f"AND ($3 = 'owner' OR {_KEEPS_AN_OWNER}) RETURNING true",
        shop_id,
        user_id,
        role,
    )
    if not updated:
        await _refusal(conn, shop_id, user_id)
    found = await _member(conn, shop_id, user_id)
    assert found is not None
    return found, before


async def remove(conn: Connection, shop_id: UUID, user_id: UUID) -> Member:
    """Takes the member off the shop, and answers who that was. Run inside a transaction."""
    await lock_team(conn, shop_id)
    member = await _member(conn, shop_id, user_id)
    removed = await conn.fetchval(
        "DELETE FROM memberships m WHERE m.shop_id = $1 AND m.user_id = $2 "  # noqa: S608
        f"AND {_KEEPS_AN_OWNER} RETURNING true",
        shop_id,
        user_id,
    )
    if not removed or member is None:
        await _refusal(conn, shop_id, user_id)
    assert member is not None
    return member


async def _member(conn: Connection, shop_id: UUID, user_id: UUID) -> Member | None:
    row = await conn.fetchrow(
        "SELECT u.id AS user_id, u.email, m.role, m.created_at AS joined_at, "
        "u.password_hash IS NOT NULL AS has_password "
        "FROM memberships m JOIN users u ON u.id = m.user_id "
        "WHERE m.shop_id = $1 AND m.user_id = $2",
        shop_id,
        user_id,
    )
    return Member(**dict(row)) if row else None


async def _refusal(conn: Connection, shop_id: UUID, user_id: UUID) -> None:
    if await _member(conn, shop_id, user_id) is None:
        raise NotAMemberError("That person is not a member of this shop.")
    raise LastOwnerError("A shop needs an owner: make someone else an owner first.")
