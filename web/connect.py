"""Connect and reconnect a shop to Dinero: Visma consent, the callback, the organisation picker.

`GET /shops/{id}/dinero/connect` → Visma's consent page (single-use `state` bound to this
session and shop, PKCE S256) → `/oauth/dinero/callback` (GET, or Visma's `form_post`) →
code exchange → `GET /v1/organizations` → the shop is linked directly when exactly one
organisation can be used, else the owner picks one. Anything going wrong shows a page saying
what happened and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final
from urllib.parse import urlencode
from uuid import UUID

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.dinero.errors import DineroError, RateLimited, ServerError
from gateway.dinero.oauth import ConnectError, InvalidGrant, TokenSet
from tenants.accounts import sessions
from tenants.audit import repository as audit
from tenants.dinero.connections import linking, oauth_flows
from tenants.dinero.connections import service as connections
from web import auth, deps
from web.shops import shop_for_request

log = logging.getLogger(__name__)

ORGANIZATIONS_ATTEMPTS: Final = 2
ORGANIZATIONS_RETRY_AFTER: Final = 0.5  # seconds

CALLBACK_PATH = "/oauth/dinero/callback"


def _redirect_uri(request: Request) -> str:
    return deps.settings(request).base_url + CALLBACK_PATH


@auth.permission("manage")
async def start(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    flow = await oauth_flows.start(
        deps.pool(request),
        deps.vault(request),
        session_hash=session.id_hash,
        user_id=session.user.id,
        shop_id=shop.id,
        now=auth.now(),
    )
    url = deps.visma(request).authorization_url(
        redirect_uri=_redirect_uri(request), state=flow.state, code_challenge=flow.code_challenge
    )
    return RedirectResponse(url, status_code=303)


async def callback_post(request: Request) -> Response:
    """`response_mode=form_post`: a cross-site POST carries no Lax cookie, so turn it into
    the GET a query-mode callback would have been; that top-level navigation does."""
    form = await auth.read_form(request)
    params = {k: str(v) for k, v in form.items() if k in ("code", "state", "error")}
    return RedirectResponse(f"{CALLBACK_PATH}?{urlencode(params)}", status_code=303)


@auth.permission("manage")
async def callback(request: Request) -> Response:
    session = await auth.require_session(request)
    params = request.query_params
    now = auth.now()
    try:
        flow = await oauth_flows.claim(
            deps.pool(request),
            deps.vault(request),
            state=params.get("state", ""),
            session_hash=session.id_hash,
            now=now,
        )
    except oauth_flows.FlowError as exc:
        return problem_page(request, "The connection was not made", str(exc), shop_id=None)
    # Only an owner starts a flow, but one demoted meanwhile must not finish it.
    await auth.require_shop(request, session, flow.shop_id)
    if params.get("error"):
        await oauth_flows.abandon(deps.pool(request), flow.id, now=now)
        reason = (
            "You declined access in Visma Connect, so nothing was changed."
            if params["error"] == "access_denied"
            else "Visma Connect did not grant access, so nothing was changed."
        )
        return problem_page(request, "The connection was not made", reason, shop_id=flow.shop_id)
    try:
        tokens = await deps.visma(request).exchange_code(
            code=params.get("code", ""),
            redirect_uri=_redirect_uri(request),
            code_verifier=flow.code_verifier,
            now=now,
        )
        offered = await _organizations(request, tokens)
    except (ConnectError, DineroError, ValueError) as exc:
        await oauth_flows.abandon(deps.pool(request), flow.id, now=now)
        log.warning("connect for shop %s failed: %s", flow.shop_id, exc)
        detail = (
            "Visma Connect did not accept the sign-in (it may have expired). Please try again."
            if isinstance(exc, InvalidGrant | ValueError)
            else "Dinero or Visma Connect did not answer as expected. Please try again shortly."
        )
        return problem_page(request, "The connection was not made", detail, shop_id=flow.shop_id)
    await oauth_flows.hold_tokens(deps.pool(request), deps.vault(request), flow.id, tokens, offered)
    usable = [o for o in offered if o.is_pro]
    if len(usable) == 1 and len(offered) == 1:
        return await _link(request, session, flow.id, usable[0].id)
    return RedirectResponse(f"/oauth/dinero/flows/{flow.id}", status_code=303)


async def _organizations(
    request: Request, tokens: TokenSet
) -> list[oauth_flows.OfferedOrganization]:
    """The organisations the new grant reaches. Asked twice if Dinero stumbles: the owner
    has just been through Visma's consent, and one 5xx should not send them through it again."""
    client = deps.dinero(request, tokens.access_token)
    for attempt in range(ORGANIZATIONS_ATTEMPTS):
        try:
            found = await client.organizations()
            break
        except (ServerError, RateLimited):
            if attempt + 1 == ORGANIZATIONS_ATTEMPTS:
                raise
            await asyncio.sleep(ORGANIZATIONS_RETRY_AFTER)
    return [
        oauth_flows.OfferedOrganization(id=o.id, name=o.name or str(o.id), is_pro=bool(o.is_pro))
        for o in found
    ]


@auth.permission("manage")
async def picker(request: Request) -> Response:
    session = await auth.require_session(request)
    pick = await _pending(request, session)
    return deps.render(request, "connect/pick.html", await _pick_context(request, pick, None))


async def _pick_context(
    request: Request, pick: oauth_flows.PendingPick, error: str | None
) -> dict[str, object]:
    """The picker, with the organisation the shop is on (a reconnect) or the only one that
    can be chosen already chosen: the wrong one is never the easy click."""
    connection = await connections.for_shop(deps.pool(request), pick.shop_id)
    pro = [o.id for o in pick.organizations if o.is_pro]
    current = connection.organization_id if connection is not None else None
    if current not in pro:
        current = pro[0] if len(pro) == 1 else None
    return {"pick": pick, "error": error, "current": current}


@auth.permission("manage")
async def choose(request: Request) -> Response:
    session = await auth.require_session(request)
    form = await auth.checked_form(request, session)
    pick = await _pending(request, session)
    try:
        organization_id = int(str(form.get("organization_id", "")))
    except ValueError:
        organization_id = 0
    chosen = next((o for o in pick.organizations if o.id == organization_id), None)
    if chosen is None or not chosen.is_pro:
        return deps.render(
            request,
            "connect/pick.html",
            await _pick_context(request, pick, "Choose one of the organisations with Dinero Pro."),
            status_code=400,
        )
    return await _link(request, session, pick.id, chosen.id)


async def _pending(request: Request, session: sessions.Session) -> oauth_flows.PendingPick:
    try:
        flow_id = UUID(request.path_params["flow_id"])
    except ValueError:
        raise HTTPException(404) from None
    pick = await oauth_flows.pending(
        deps.pool(request), flow_id, session_hash=session.id_hash, now=auth.now()
    )
    if pick is None:
        raise HTTPException(404)
    # Only an owner starts a flow, but one demoted meanwhile must not finish it.
    await auth.require_shop(request, session, pick.shop_id)
    return pick


async def _link(
    request: Request, session: sessions.Session, flow_id: UUID, organization_id: int
) -> Response:
    now = auth.now()
    async with deps.pool(request).acquire() as conn, conn.transaction():
        try:
            pick, tokens = await oauth_flows.take_tokens(
                conn, deps.vault(request), flow_id, session_hash=session.id_hash, now=now
            )
        except oauth_flows.FlowError as exc:
            return problem_page(request, "The connection was not made", str(exc), shop_id=None)
        chosen = next(o for o in pick.organizations if o.id == organization_id)
        await linking.connect_shop(
            conn,
            deps.vault(request),
            shop_id=pick.shop_id,
            grant=linking.Grant(
                organization_id=chosen.id,
                organization_name=chosen.name,
                is_pro=chosen.is_pro,
                tokens=tokens,
            ),
            user_id=session.user.id,
            now=now,
        )
        await audit.record(
            conn,
            pick.shop_id,
            auth.actor(session),
            "dinero.connected",
            f"{chosen.name} ({chosen.id})",
            now=now,
        )
    return RedirectResponse(f"/shops/{pick.shop_id}", status_code=303)


def problem_page(request: Request, title: str, detail: str, *, shop_id: UUID | None) -> Response:
    """Why a connection (to Dinero or a shop platform) was not made, with the way back."""
    return deps.render(
        request,
        "connect/problem.html",
        {"title": title, "detail": detail, "shop_id": shop_id},
        status_code=400,
    )


routes = [
    Route("/shops/{shop_id}/dinero/connect", start, methods=["GET"]),
    Route(CALLBACK_PATH, callback, methods=["GET"]),
    Route(CALLBACK_PATH, callback_post, methods=["POST"]),
    Route("/oauth/dinero/flows/{flow_id}", picker, methods=["GET"]),
    Route("/oauth/dinero/flows/{flow_id}", choose, methods=["POST"]),
]
