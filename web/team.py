"""A shop's team: its owners invite members (owners or bookkeepers), change their roles
and remove them; the invitee accepts through a single-use link. And the shop's audit log,
which says who changed what.

The invite is mailed to the invitee through the mail outbox, and its link is shown once, to
the owner who made it, with the text that carries it (`tenants.team.invites.invite_message`),
so it can also be passed on by hand. The
last owner cannot leave or be demoted: the team's repository refuses under the shop's
lock, and the page only reports it.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway import passwords
from gateway.db import Connection
from tenants.accounts import sessions, users
from tenants.audit import repository as audit
from tenants.shops import repository as shops
from tenants.team import invites, members, roles
from web import auth, deps, i18n
from web.invites import password_problem

# What `secrets.token_urlsafe(32)` makes; anything else is not worth a database query.
_TOKEN: Final = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def role_labels(t: i18n.Translator) -> dict[str, str]:
    return {"owner": t("Owner"), "bookkeeper": t("Bookkeeper")}


def action_labels(t: i18n.Translator) -> dict[audit.Action, str]:
    """What each kind of audit line says, in the reader's language."""
    labels: dict[audit.Action, str] = {
        "settings.changed": t("Changed the settings"),
        "secret.rolled": t("Rolled the ingest secret"),
        "dinero.connected": t("Connected Dinero"),
        "dinero.disconnected": t("Disconnected Dinero"),
        "source.connected": t("Connected a store"),
        "source.changed": t("Changed a store's settings"),
        "source.backfill": t("Started bringing in older orders"),
        "shop.activated": t("Activated the shop"),
        "member.invited": t("Invited a member"),
        "member.joined": t("Joined the team"),
        "member.role_changed": t("Changed a member's role"),
        "member.removed": t("Removed a member"),
        "invite.revoked": t("Withdrew an invite"),
    }
    return labels


# --- the team page ----------------------------------------------------------------------------


@auth.permission("manage")
async def team_page(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await auth.require_shop(request, session)
    return await _page(request, session, shop)


async def _page(
    request: Request,
    session: sessions.Session,
    shop: shops.Shop,
    *,
    issued: invites.InviteMessage | None = None,
    error: str | None = None,
    sent: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    pool, t = deps.pool(request), i18n.translator(request)
    team = await members.members(pool, shop.id)
    context: dict[str, Any] = {
        "shop": shop,
        "tab": "team",
        "members": team,
        "owners": sum(1 for m in team if m.role == "owner"),
        "pending": await invites.pending(pool, shop.id, now=auth.now()),
        "roles": roles.ROLES,
        "role_labels": role_labels(t),
        "issued": issued,
        "error": error,
        "sent": sent or {"email": "", "role": "bookkeeper"},
        "me": session.user.id,
        "invite_days": invites.INVITE_TTL.days,
    }
    response = deps.render(request, "team/show.html", context, status_code=status_code)
    if issued is not None:  # the link is the credential: not cached, not in history
        response.headers["Cache-Control"] = "no-store"
    return response


@auth.permission("manage")
async def invite(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await auth.require_shop(request, session)
    form = await auth.checked_form(request, session)
    t = i18n.translator(request)
    email, role = str(form.get("email", "")).strip()[:320], str(form.get("role", ""))
    sent = {"email": email, "role": role}
    if not roles.is_role(role):
        error = t("Choose a role: owner or bookkeeper.")
        return await _page(request, session, shop, error=error, sent=sent, status_code=400)
    now = auth.now()
    try:
        async with deps.pool(request).acquire() as conn, conn.transaction():
            issued = await invites.issue(
                conn,
                shop_id=shop.id,
                email=email,
                role=role,
                invited_by=session.user.id,
                now=now,
            )
            detail = f"{issued.email}, {role}"
            await audit.record(
                conn, shop.id, auth.actor(session), "member.invited", detail, now=now
            )
            message = invites.invite_message(
                deps.settings(request).base_url,
                issued,
                shop_name=shop.name,
                inviter_email=session.user.email,
                locale=i18n.locale_for(request),
            )
            await invites.mail_invite(conn, issued, message, now=now)
    except users.InvalidEmailError:
        error = t("That is not an e-mail address.")
        return await _page(request, session, shop, error=error, sent=sent, status_code=400)
    except invites.AlreadyMemberError:
        error = t("{email} is already a member of this shop.", email=email)
        return await _page(request, session, shop, error=error, sent=sent, status_code=409)
    return await _page(request, session, shop, issued=message)


def _user_id(request: Request) -> UUID:
    try:
        return UUID(request.path_params["user_id"])
    except ValueError:
        raise HTTPException(404) from None


@auth.permission("manage")
async def change_role(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await auth.require_shop(request, session)
    user_id = _user_id(request)
    form = await auth.checked_form(request, session)
    t = i18n.translator(request)
    pool = deps.pool(request)
    if await members.role_of(pool, shop.id, user_id) is None:
        raise HTTPException(404)  # someone else's user is no business of this shop
    role = str(form.get("role", ""))
    if not roles.is_role(role):
        error = t("Choose a role: owner or bookkeeper.")
        return await _page(request, session, shop, error=error, status_code=400)
    now = auth.now()
    try:
        async with pool.acquire() as conn, conn.transaction():
            member, before = await members.change_role(conn, shop.id, user_id, role)
            if before != role:
                await audit.record(
                    conn,
                    shop.id,
                    auth.actor(session),
                    "member.role_changed",
                    f"{member.email}: {before} → {role}",
                    now=now,
                )
    except members.NotAMemberError:
        raise HTTPException(404) from None
    except members.LastOwnerError:
        error = t("A shop needs an owner: make someone else an owner first.")
        return await _page(request, session, shop, error=error, status_code=409)
    if user_id == session.user.id and role != "owner":
        return RedirectResponse(f"/shops/{shop.id}", 303)  # this page is an owner's
    return RedirectResponse(f"/shops/{shop.id}/team", 303)


@auth.permission("manage")
async def remove(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await auth.require_shop(request, session)
    user_id = _user_id(request)
    await auth.checked_form(request, session)
    now = auth.now()
    try:
        async with deps.pool(request).acquire() as conn, conn.transaction():
            member = await members.remove(conn, shop.id, user_id)
            await audit.record(
                conn, shop.id, auth.actor(session), "member.removed", member.email, now=now
            )
    except members.NotAMemberError:
        raise HTTPException(404) from None
    except members.LastOwnerError:
        t = i18n.translator(request)
        error = t("A shop needs an owner: make someone else an owner first.")
        return await _page(request, session, shop, error=error, status_code=409)
    if user_id == session.user.id:
        return RedirectResponse("/", 303)  # left the shop
    return RedirectResponse(f"/shops/{shop.id}/team", 303)


@auth.permission("manage")
async def revoke_invite(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await auth.require_shop(request, session)
    try:
        invite_id = UUID(request.path_params["invite_id"])
    except ValueError:
        raise HTTPException(404) from None
    await auth.checked_form(request, session)
    now = auth.now()
    try:
        async with deps.pool(request).acquire() as conn, conn.transaction():
            email = await invites.revoke(conn, shop.id, invite_id, now=now)
            await audit.record(conn, shop.id, auth.actor(session), "invite.revoked", email, now=now)
    except invites.LinkSpentError:
        raise HTTPException(404) from None  # used, withdrawn already, or not this shop's
    return RedirectResponse(f"/shops/{shop.id}/team", 303)


# --- the audit log ----------------------------------------------------------------------------


@auth.permission("manage")
async def audit_page(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await auth.require_shop(request, session)
    context = {
        "shop": shop,
        "tab": "audit",
        "entries": await audit.recent(deps.pool(request), shop.id),
        "action_labels": action_labels(i18n.translator(request)),
    }
    return deps.render(request, "team/audit.html", context)


# --- accepting an invite ----------------------------------------------------------------------


async def join_page(request: Request) -> Response:
    token = request.path_params["token"]
    found = await _open(request, token)
    if found is None:
        return _invalid(request)
    session = await auth.current_session(request)
    return _join_form(request, found, session, error=None)


async def join(request: Request) -> Response:
    token = request.path_params["token"]
    found = await _open(request, token)
    if found is None:
        return _invalid(request)
    session = await auth.current_session(request)
    t = i18n.translator(request)
    pool, now = deps.pool(request), auth.now()
    if session is not None:
        await auth.checked_form(request, session)
        try:
            async with pool.acquire() as conn, conn.transaction():
                joined = await invites.accept(conn, token, session.user, now=now)
                await _record_join(conn, joined, auth.actor(session), now=now)
        except invites.WrongAccountError:
            return _join_form(request, found, session, error=None, status=403)
        except invites.LinkSpentError:
            return _invalid(request)
        return RedirectResponse(f"/shops/{joined.shop_id}", 303)

    form = await auth.read_form(request)
    if not auth.form_token_ok(request, form):
        error = t("The form was out of date. Please try again.")
        return _join_form(request, found, None, error=error, status=400)
    if found.has_password:  # the account exists: accepting takes logging in
        return _join_form(request, found, None, error=None, status=403)
    password = str(form.get("password", ""))
    if password != str(form.get("password_confirm", "")):
        return _join_form(request, found, None, error=t("The two passwords differ."), status=400)
    problem = password_problem(request, password)
    if problem is not None:
        return _join_form(request, found, None, error=problem, status=400)
    password_hash = await asyncio.to_thread(passwords.hash_password, password)
    try:
        async with pool.acquire() as conn, conn.transaction():
            joined, user_id = await invites.accept_with_password(
                conn, token, password_hash, now=now
            )
            actor = audit.Actor(user_id=user_id, email=joined.email)
            await _record_join(conn, joined, actor, now=now)
            user = await users.get_by_email(conn, joined.email)
    except invites.LogInFirstError:
        return _join_form(request, found, None, error=None, status=403)
    except invites.LinkSpentError:
        return _invalid(request)
    assert user is not None
    response = RedirectResponse(f"/shops/{joined.shop_id}", 303)
    await auth.start_session(request, response, user)
    return response


async def _record_join(
    conn: Connection, joined: invites.OpenInvite, actor: audit.Actor, *, now: datetime
) -> None:
    await audit.record(
        conn, joined.shop_id, actor, "member.joined", f"{joined.email}, {joined.role}", now=now
    )


async def _open(request: Request, token: str) -> invites.OpenInvite | None:
    if not _TOKEN.match(token):
        return None
    return await invites.open_invite(deps.pool(request), token, now=auth.now())


def _join_form(
    request: Request,
    found: invites.OpenInvite,
    session: sessions.Session | None,
    *,
    error: str | None,
    status: int = 200,
) -> Response:
    context = {
        "invite": found,
        "role_label": role_labels(i18n.translator(request))[found.role],
        "error": error,
        "min_length": passwords.MIN_LENGTH,
        "logged_in_as": session.user.email if session else None,
    }
    if session is not None:
        response = deps.render(request, "team/join.html", context, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        return response
    return auth.render_form_page(request, "team/join.html", context, status_code=status)


def _invalid(request: Request) -> Response:
    context = {"invite_days": invites.INVITE_TTL.days}
    response = deps.render(request, "team/invalid.html", context, status_code=404)
    response.headers["Cache-Control"] = "no-store"
    return response


routes = [
    Route("/shops/{shop_id}/team", team_page, methods=["GET"]),
    Route("/shops/{shop_id}/team/invites", invite, methods=["POST"]),
    Route("/shops/{shop_id}/team/invites/{invite_id}/revoke", revoke_invite, methods=["POST"]),
    Route("/shops/{shop_id}/team/members/{user_id}/role", change_role, methods=["POST"]),
    Route("/shops/{shop_id}/team/members/{user_id}/remove", remove, methods=["POST"]),
    Route("/shops/{shop_id}/audit", audit_page, methods=["GET"]),
    Route("/join/{token}", join_page, methods=["GET"]),
    Route("/join/{token}", join, methods=["POST"]),
]
