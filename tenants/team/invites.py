"""Invitations to a shop's team: an owner names an e-mail and a role; the invitee opens a
single-use link that expires, chooses a password (or, already a user, just accepts while
logged in as that e-mail) and becomes a member.

As with the first owner's invite (`tenants.accounts.users`), the link's token is the
credential and only its sha256 is stored: the token is shown once, to the owner who made
it, and goes out in the invite's message. A newer invite to the same e-mail replaces an
older one that is still open.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

from gateway.db import Connection, Pool
from gateway.mail import Mail
from tenants.accounts import users
from tenants.mail import outbox as mail_outbox
from tenants.team import members
from tenants.team.roles import Role

INVITE_TTL: Final = users.INVITE_TTL


class InviteError(Exception):
    """The invite cannot be made or used as asked; the message says why."""


class AlreadyMemberError(InviteError):
    pass


class LinkSpentError(InviteError):
    """Used, revoked, expired or unknown: the same to whoever holds the link."""


class WrongAccountError(InviteError):
    pass


class LogInFirstError(InviteError):
    """The invited e-mail already has a password: accepting takes logging in as it."""


@dataclass(frozen=True)
class IssuedInvite:
    id: UUID
    email: str
    role: Role
    expires_at: datetime
    token: str  # shown once; only its hash is stored


@dataclass(frozen=True)
class PendingInvite:
    id: UUID
    email: str
    role: Role
    invited_by_email: str | None
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class OpenInvite:
    """What the link's page needs to know about the invite it opens."""

    id: UUID
    shop_id: UUID
    shop_name: str
    email: str
    role: Role
    invited_by_email: str | None
    # The account the e-mail already has, if any, and whether it has a password.
    user_id: UUID | None
    has_password: bool


def invite_url(base_url: str, token: str) -> str:
    return f"{base_url}/join/{token}"


async def issue(
    conn: Connection, *, shop_id: UUID, email: str, role: Role, invited_by: UUID, now: datetime
) -> IssuedInvite:
    """A new invite (replacing an open one to the same e-mail). Run inside a transaction.
    Raises `users.InvalidEmailError` for something that is not an e-mail address."""
    normalized = users.normalize_email(email)
    await members.lock_team(conn, shop_id)
    already = await conn.fetchval(
        "SELECT true FROM memberships m JOIN users u ON u.id = m.user_id "
        "WHERE m.shop_id = $1 AND u.email = $2",
        shop_id,
        normalized,
    )
    if already:
        raise AlreadyMemberError(f"{normalized} is already a member of this shop.")
    await conn.execute(
        "UPDATE team_invites SET revoked_at = $3 WHERE shop_id = $1 AND email = $2 "
        "AND used_at IS NULL AND revoked_at IS NULL",
        shop_id,
        normalized,
        now,
    )
    token = secrets.token_urlsafe(32)
    expires_at = now + INVITE_TTL
    invite_id: UUID = await conn.fetchval(
        "INSERT INTO team_invites (token_hash, shop_id, email, role, invited_by, created_at, "
        "expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        users.hash_token(token),
        shop_id,
        normalized,
        role,
        invited_by,
        now,
        expires_at,
    )
    return IssuedInvite(
        id=invite_id, email=normalized, role=role, expires_at=expires_at, token=token
    )


async def pending(conn: Connection | Pool, shop_id: UUID, *, now: datetime) -> list[PendingInvite]:
    """The shop's invites that can still be accepted, newest first."""
    rows = await conn.fetch(
        "SELECT i.id, i.email, i.role, u.email AS invited_by_email, i.created_at, i.expires_at "
        "FROM team_invites i LEFT JOIN users u ON u.id = i.invited_by "
        "WHERE i.shop_id = $1 AND i.used_at IS NULL AND i.revoked_at IS NULL "
        "AND i.expires_at > $2 ORDER BY i.created_at DESC, i.id",
        shop_id,
        now,
    )
    return [PendingInvite(**dict(row)) for row in rows]


async def revoke(conn: Connection | Pool, shop_id: UUID, invite_id: UUID, *, now: datetime) -> str:
    """Closes an open invite of this shop; answers its e-mail. LinkSpentError when there is
    no such open invite (another shop's included)."""
    email: str | None = await conn.fetchval(
        "UPDATE team_invites SET revoked_at = $3 WHERE id = $2 AND shop_id = $1 "
        "AND used_at IS NULL AND revoked_at IS NULL RETURNING email",
        shop_id,
        invite_id,
        now,
    )
    if email is None:
        raise LinkSpentError("That invite is no longer open.")
    return email


async def open_invite(conn: Connection | Pool, token: str, *, now: datetime) -> OpenInvite | None:
    """The open invite this token belongs to; None when used, revoked, expired or unknown."""
    row = await conn.fetchrow(
        "SELECT i.id, i.shop_id, s.name AS shop_name, i.email, i.role, "
        "inviter.email AS invited_by_email, u.id AS user_id, "
        "coalesce(u.password_hash IS NOT NULL, false) AS has_password "
        "FROM team_invites i JOIN shops s ON s.id = i.shop_id "
        "LEFT JOIN users inviter ON inviter.id = i.invited_by "
        "LEFT JOIN users u ON u.email = i.email "
        "WHERE i.token_hash = $1 AND i.used_at IS NULL AND i.revoked_at IS NULL "
        "AND i.expires_at > $2",
        users.hash_token(token),
        now,
    )
    return OpenInvite(**dict(row)) if row else None


async def accept(conn: Connection, token: str, user: users.User, *, now: datetime) -> OpenInvite:
    """Makes `user`, logged in as the invited e-mail, a member with the invite's role, and
    spends the link. Run inside a transaction."""
    invite = await open_invite(conn, token, now=now)
    if invite is None:
        raise LinkSpentError("This invite has been used, withdrawn or has expired.")
    if user.email != invite.email:
        raise WrongAccountError(
            f"This invite is for {invite.email}; you are logged in as {user.email}."
        )
    await _join(conn, token, invite, user.id, now=now)
    return invite


async def accept_with_password(
    conn: Connection, token: str, password_hash: str, *, now: datetime
) -> tuple[OpenInvite, UUID]:
    """For an e-mail without a password: creates the user (or sets the password of one
    made before, e.g. by the admin), makes them a member and spends the link; every other
    session of that user ends. Run inside a transaction. Answers the invite and the user."""
    invite = await open_invite(conn, token, now=now)
    if invite is None:
        raise LinkSpentError("This invite has been used, withdrawn or has expired.")
    if invite.has_password:
        raise LogInFirstError(f"{invite.email} already has an account: log in to accept.")
    if invite.user_id is None:
        user = await users.create_user(conn, email=invite.email, password_hash=password_hash)
        user_id = user.id
    else:
        user_id = invite.user_id
        await conn.execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1 AND password_hash IS NULL",
            user_id,
            password_hash,
        )
        await users.end_sessions_and_links(conn, user_id)
    await _join(conn, token, invite, user_id, now=now)
    return invite, user_id


async def _join(
    conn: Connection, token: str, invite: OpenInvite, user_id: UUID, *, now: datetime
) -> None:
    await members.lock_team(conn, invite.shop_id)
    spent = await conn.fetchval(
        "UPDATE team_invites SET used_at = $2, used_by = $3 WHERE token_hash = $1 "
        "AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2 RETURNING true",
        users.hash_token(token),
        now,
        user_id,
    )
    if not spent:  # spent by a parallel request meanwhile
        raise LinkSpentError("This invite has been used, withdrawn or has expired.")
    # Someone who is a member already keeps the role they have.
    await conn.execute(
        "INSERT INTO memberships (user_id, shop_id, role, created_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (user_id, shop_id) DO NOTHING",
        user_id,
        invite.shop_id,
        invite.role,
        now,
    )


@dataclass(frozen=True)
class InviteMessage:
    url: str
    subject: str
    body: str


_TEXTS: Final = {
    "en": {
        "subject": "Join {shop} on Dinero Gateway",
        "owner": "an owner",
        "bookkeeper": "a bookkeeper",
        "body": (
            "{inviter} has invited you to {shop} on Dinero Gateway as {role}.\n\n"
            "Open this link to accept (it works once, until {expires}):\n{url}\n\n"
            "If you did not expect this, ignore this message."
        ),
    },
    "da": {
        "subject": "Bliv en del af {shop} på Dinero Gateway",
        "owner": "ejer",
        "bookkeeper": "bogholder",
        "body": (
            "{inviter} har inviteret dig til {shop} på Dinero Gateway som {role}.\n\n"
            "Åbn dette link for at tage imod (det virker én gang, indtil {expires}):\n{url}\n\n"
            "Hvis du ikke ventede denne besked, kan du se bort fra den."
        ),
    },
}


def invite_message(
    base_url: str,
    invite: IssuedInvite,
    *,
    shop_name: str,
    inviter_email: str,
    locale: str = "da",
) -> InviteMessage:
    """The invite's link and the text that carries it, in `locale` ("da" or "en"): what the
    team page shows the owner to copy now, and what a mail would send."""
    texts = _TEXTS.get(locale, _TEXTS["da"])
    url = invite_url(base_url, invite.token)
    values = {
        "shop": shop_name,
        "inviter": inviter_email,
        "role": texts[invite.role],
        "expires": invite.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        "url": url,
    }
    return InviteMessage(
        url=url, subject=texts["subject"].format(**values), body=texts["body"].format(**values)
    )


async def mail_invite(
    conn: Connection, invite: IssuedInvite, message: InviteMessage, *, now: datetime
) -> None:
    """Queues the invite's mail to the invitee, in the transaction that made the invite:
    the mail outbox sends it once, retrying until the server takes it. (The mail carries
    the link, so the outbox holds it until it forgets sent mail; the link works once and
    expires long before that.)"""
    link = html.escape(message.url, quote=True)
    paragraphs = [
        html.escape(part).replace(link, f'<a href="{link}">{link}</a>')
        for part in message.body.split("\n\n")
    ]
    body_html = "".join(f"<p>{part}</p>".replace("\n", "<br>") for part in paragraphs)
    await mail_outbox.queue(
        conn,
        dedupe_key=f"invite:{invite.id}",
        mail=Mail(invite.email, message.subject, message.body, body_html),
        now=now,
    )
