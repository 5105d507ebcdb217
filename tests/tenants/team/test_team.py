"""The team in SQL: invites that work once, and a shop that always keeps an owner."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest

from gateway.db import Connection, Pool
from gateway.vault import Vault
from tenants.accounts import users
from tenants.audit import repository as audit
from tenants.team import invites, members
from tests.factories import cheap_hash, make_shop, make_user

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


async def _add(pool: Pool, shop_id: object, user_id: object, role: str) -> None:
    await pool.execute(
        "INSERT INTO memberships (user_id, shop_id, role) VALUES ($1, $2, $3)",
        user_id,
        shop_id,
        role,
    )


async def test_viewer_is_no_longer_a_role(pool: Pool, vault: Vault) -> None:
    shop, _, _ = await make_shop(pool, vault)
    user = await make_user(pool)
    with pytest.raises(asyncpg.CheckViolationError, match="memberships_role_check"):
        await _add(pool, shop.id, user.id, "viewer")


async def test_the_last_owner_can_be_neither_demoted_nor_removed(pool: Pool, vault: Vault) -> None:
    shop, _, owner = await make_shop(pool, vault)
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(members.LastOwnerError):
            await members.change_role(conn, shop.id, owner.id, "bookkeeper")
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(members.LastOwnerError):
            await members.remove(conn, shop.id, owner.id)
    assert await members.role_of(pool, shop.id, owner.id) == "owner"

    # With a second owner, either may go.
    other = await make_user(pool)
    await _add(pool, shop.id, other.id, "owner")
    async with pool.acquire() as conn, conn.transaction():
        demoted, before = await members.change_role(conn, shop.id, owner.id, "bookkeeper")
    assert (demoted.role, before) == ("bookkeeper", "owner")
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(members.LastOwnerError):
            await members.remove(conn, shop.id, other.id)
    async with pool.acquire() as conn, conn.transaction():
        removed = await members.remove(conn, shop.id, owner.id)
    assert removed.email == owner.email
    assert [m.email for m in await members.members(pool, shop.id)] == [other.email]


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    pool: Pool, vault: Vault
) -> None:
    shop, _, first = await make_shop(pool, vault)
    second = await make_user(pool)
    await _add(pool, shop.id, second.id, "owner")

    async def demote(user_id: object) -> str:
        async with pool.acquire() as conn, conn.transaction():
            try:
                await members.change_role(conn, shop.id, user_id, "bookkeeper")  # type: ignore[arg-type]
            except members.LastOwnerError:
                return "refused"
            return "demoted"

    outcomes = await asyncio.gather(demote(first.id), demote(second.id))
    assert sorted(outcomes) == ["demoted", "refused"]
    owners = await pool.fetchval(
        "SELECT count(*) FROM memberships WHERE shop_id = $1 AND role = 'owner'", shop.id
    )
    assert owners == 1


async def test_the_lock_makes_the_second_change_wait_for_the_first(
    pool: Pool, vault: Vault
) -> None:
    """Without the lock both would count two owners and both demotions would pass."""
    shop, _, first = await make_shop(pool, vault)
    second = await make_user(pool)
    await _add(pool, shop.id, second.id, "owner")
    async with pool.acquire() as a, pool.acquire() as b:
        tx = a.transaction()
        await tx.start()
        await members.change_role(a, shop.id, first.id, "bookkeeper")
        waiting = asyncio.create_task(_demote_in(b, shop.id, second.id))
        # The second transaction is now blocked on the shop's lock, which the first holds.
        blocked = "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1"
        while not await pool.fetchval(blocked, b.get_server_pid()):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        assert not waiting.done()
        await tx.commit()
        with pytest.raises(members.LastOwnerError):
            await waiting


async def _demote_in(conn: Connection, shop_id: UUID, user_id: UUID) -> None:
    async with conn.transaction():
        await members.change_role(conn, shop_id, user_id, "bookkeeper")


async def test_an_invite_works_once_and_makes_a_member(pool: Pool, vault: Vault) -> None:
    shop, _, owner = await make_shop(pool, vault)
    async with pool.acquire() as conn, conn.transaction():
        issued = await invites.issue(
            conn,
            shop_id=shop.id,
            email=" Karen@Example.dk ",
            role="bookkeeper",
            invited_by=owner.id,
            now=NOW,
        )
    assert issued.email == "karen@example.dk"
    stored = await pool.fetchval("SELECT token_hash FROM team_invites WHERE id = $1", issued.id)
    assert stored == users.hash_token(issued.token) and issued.token.encode() not in stored

    opened = await invites.open_invite(pool, issued.token, now=NOW)
    assert opened is not None and opened.user_id is None and opened.shop_name == shop.name
    async with pool.acquire() as conn, conn.transaction():
        joined, user_id = await invites.accept_with_password(
            conn, issued.token, cheap_hash(), now=NOW
        )
    assert joined.role == "bookkeeper"
    assert await members.role_of(pool, shop.id, user_id) == "bookkeeper"
    assert await invites.open_invite(pool, issued.token, now=NOW) is None
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(invites.LinkSpentError):
            await invites.accept_with_password(conn, issued.token, cheap_hash(), now=NOW)


async def test_an_invite_expires_and_a_new_one_replaces_the_old(pool: Pool, vault: Vault) -> None:
    shop, _, owner = await make_shop(pool, vault)
    async with pool.acquire() as conn, conn.transaction():
        old = await invites.issue(
            conn,
            shop_id=shop.id,
            email="a@example.dk",
            role="owner",
            invited_by=owner.id,
            now=NOW,
        )
        new = await invites.issue(
            conn,
            shop_id=shop.id,
            email="a@example.dk",
            role="bookkeeper",
            invited_by=owner.id,
            now=NOW,
        )
    assert await invites.open_invite(pool, old.token, now=NOW) is None
    assert await invites.open_invite(pool, new.token, now=NOW) is not None
    later = NOW + invites.INVITE_TTL + timedelta(seconds=1)
    assert await invites.open_invite(pool, new.token, now=later) is None
    assert [p.email for p in await invites.pending(pool, shop.id, now=NOW)] == ["a@example.dk"]


async def test_an_existing_user_accepts_only_as_themselves(pool: Pool, vault: Vault) -> None:
    shop, _, owner = await make_shop(pool, vault)
    invited, stranger = await make_user(pool), await make_user(pool)
    async with pool.acquire() as conn, conn.transaction():
        issued = await invites.issue(
            conn,
            shop_id=shop.id,
            email=invited.email,
            role="owner",
            invited_by=owner.id,
            now=NOW,
        )
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(invites.LogInFirstError):
            await invites.accept_with_password(conn, issued.token, cheap_hash(), now=NOW)
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(invites.WrongAccountError):
            await invites.accept(conn, issued.token, stranger, now=NOW)
    async with pool.acquire() as conn, conn.transaction():
        await invites.accept(conn, issued.token, invited, now=NOW)
    assert await members.role_of(pool, shop.id, invited.id) == "owner"
    assert await members.role_of(pool, shop.id, stranger.id) is None
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(invites.AlreadyMemberError):
            await invites.issue(
                conn,
                shop_id=shop.id,
                email=invited.email,
                role="owner",
                invited_by=owner.id,
                now=NOW,
            )


def test_the_invite_message_carries_the_link() -> None:
    issued = invites.IssuedInvite(
        id=uuid4(),
        email="k@example.dk",
        role="bookkeeper",
        expires_at=NOW + invites.INVITE_TTL,
        token="t" * 43,
    )
    message = invites.invite_message(
        "https://gw.example",
        issued,
        shop_name="Sokkeriet",
        inviter_email="o@example.dk",
        locale="da",
    )
    assert message.url == "https://gw.example/join/" + "t" * 43
    assert message.url in message.body and "bogholder" in message.body
    assert "Sokkeriet" in message.subject
    english = invites.invite_message(
        "https://gw.example",
        issued,
        shop_name="Sokkeriet",
        inviter_email="o@example.dk",
        locale="en",
    )
    assert "as a bookkeeper" in english.body


async def test_the_audit_log_lists_newest_first_per_shop(pool: Pool, vault: Vault) -> None:
    shop, _, owner = await make_shop(pool, vault)
    other, _, _ = await make_shop(pool, vault)
    actor = audit.Actor(owner.id, owner.email)
    await audit.record(pool, shop.id, actor, "secret.rolled", now=NOW)
    await audit.record(
        pool, shop.id, actor, "member.removed", "x@example.dk", now=NOW + timedelta(1)
    )
    await audit.record(pool, other.id, actor, "secret.rolled", now=NOW)
    entries = await audit.recent(pool, shop.id)
    assert [(e.action, e.detail, e.actor_email) for e in entries] == [
        ("member.removed", "x@example.dk", owner.email),
        ("secret.rolled", "", owner.email),
    ]
    with pytest.raises(ValueError, match="unknown audit action"):
        await audit.record(pool, shop.id, actor, "nonsense.done", now=NOW)  # type: ignore[arg-type]
