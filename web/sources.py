"""Shop platforms as sources: connecting a Shopify store, and its webhooks.

`GET /shops/{shop_id}/sources/shopify/connect?shop=<name>.myshopify.com` → Shopify's grant
page → `GET /oauth/shopify/callback` (its `hmac` verified, the state spent) → the shop page.
`POST /webhooks/shopify`: the HMAC is checked over the raw body, in constant time, before
anything is parsed (401 when it does not match); a verified delivery is answered 200, also
for a store with no source (acknowledged, logged, ignored), so Shopify never retries what
would not change. Ingest is one short transaction: no Dinero call happens on this path, so
the answer comes well inside Shopify's five seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from gateway.shopify import install as shopify
from tenants.audit import repository as audit
from tenants.orders.ingest import enqueue_new_documents
from tenants.sources import repository as sources
from tenants.sources.repository import Platform
from tenants.sources.shopify import backfill, install, webhooks
from web import auth, deps, i18n, ingest
from web.connect import problem_page
from web.shops import shop_for_request

log = logging.getLogger(__name__)

CALLBACK_PATH: Final = "/oauth/shopify/callback"

# Shopify's order payloads carry every line, tax line and refund; 5 MiB is far above any.
MAX_WEBHOOK_BYTES: Final = 5 * 1024 * 1024


@auth.permission("manage")
async def connect(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    store = shopify.shop_domain(request.query_params.get("shop", ""))
    if store is None:
        return problem_page(
            request,
            "That is not a Shopify store address",
            "Type the store's address as Shopify shows it, e.g. my-shop.myshopify.com.",
            shop_id=shop.id,
        )
    settings = deps.settings(request)
    url = await install.start(
        deps.pool(request),
        settings,
        session_hash=session.id_hash,
        user_id=session.user.id,
        shop_id=shop.id,
        store=store,
        redirect_uri=settings.base_url + CALLBACK_PATH,
        now=auth.now(),
    )
    return RedirectResponse(url, status_code=303)


async def callback(request: Request) -> Response:
    session = await auth.require_session(request)
    try:
        connected = await install.finish(
            deps.pool(request),
            deps.vault(request),
            deps.http(request),
            deps.settings(request),
            params=request.query_params.multi_items(),
            session_hash=session.id_hash,
            now=auth.now(),
        )
    except install.InstallFailed as exc:
        return problem_page(request, "The store was not connected", str(exc), shop_id=exc.shop_id)
    await audit.record(
        deps.pool(request),
        connected.shop_id,
        auth.actor(session),
        "source.connected",
        f"Shopify {connected.store}",
        now=auth.now(),
    )
    return RedirectResponse(f"/shops/{connected.shop_id}", status_code=303)


@auth.permission("manage")
async def start_backfill(request: Request) -> Response:
    """The owner's "bring in my orders since …": a date, from midnight in the shop's zone."""
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    form = await auth.checked_form(request, session)
    try:
        day = dt.date.fromisoformat(str(form.get("since", "")).strip())
    except ValueError:
        return problem_page(
            request,
            "That is not a date",
            "Pick the first day whose orders should be brought in, e.g. 2026-01-01.",
            shop_id=shop.id,
        )
    since = dt.datetime.combine(day, dt.time(), i18n.zone_of(request)).astimezone(dt.UTC)
    pool, vault = deps.pool(request), deps.vault(request)
    platform = _platform(request)
    source = await sources.of_shop(pool, vault, platform, shop.id)
    try:
        if source is None:
            raise backfill.CannotBackfill("Connect the store first.")
        async with pool.acquire() as conn, conn.transaction():
            await backfill.start(conn, source.id, since=since, now=auth.now())
            await audit.record(
                conn,
                shop.id,
                auth.actor(session),
                "source.backfill",
                f"{_NAMES[platform]} {source.store}, since {day.isoformat()}",
                now=auth.now(),
            )
    except backfill.CannotBackfill as exc:
        return problem_page(request, "The backfill did not start", str(exc), shop_id=shop.id)
    return RedirectResponse(f"/shops/{shop.id}#sources", status_code=303)


def _platform(request: Request) -> Platform:
    """The platform a source route is for (its path says): Shopify's or WooCommerce's."""
    return "woocommerce" if "/sources/woocommerce/" in request.url.path else "shopify"


# How the audit log names a platform.
_NAMES: Final[dict[Platform, str]] = {"shopify": "Shopify", "woocommerce": "WooCommerce"}


MAX_VAT_NUMBER_KEYS: Final = 10
MAX_KEY_LENGTH: Final = 100


@auth.permission("manage")
async def save_vat_number_keys(request: Request) -> Response:
    """Which note attributes (Shopify) or `meta_data` keys (WooCommerce) carry the buyer's VAT
    number in this store (comma-separated; empty: the defaults)."""
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    form = await auth.checked_form(request, session)
    keys = [k.strip() for k in str(form.get("vat_number_keys", "")).split(",") if k.strip()]
    if len(keys) > MAX_VAT_NUMBER_KEYS or any(len(k) > MAX_KEY_LENGTH for k in keys):
        return problem_page(
            request,
            "Too many names",
            "Give at most 10 names of at most 100 characters each.",
            shop_id=shop.id,
        )
    pool = deps.pool(request)
    platform = _platform(request)
    source = await sources.of_shop(pool, deps.vault(request), platform, shop.id)
    if source is None:
        return problem_page(
            request, "Nothing was saved", "Connect the store first.", shop_id=shop.id
        )
    async with pool.acquire() as conn, conn.transaction():
        await sources.set_vat_number_keys(conn, source.id, keys)
        detail = f"{_NAMES[platform]} {source.store}: VAT number from " + (
            ", ".join(keys) or "the defaults"
        )
        await audit.record(
            conn, shop.id, auth.actor(session), "source.changed", detail, now=auth.now()
        )
    return RedirectResponse(f"/shops/{shop.id}#sources", status_code=303)


async def webhook(request: Request) -> Response:
    return await ingest.counted(request, "shopify", _webhook)


async def _webhook(request: Request) -> Response:
    body = await deps.body_within(request, MAX_WEBHOOK_BYTES)
    if body is None:
        return JSONResponse({"error": "payload too large"}, status_code=413)
    secret = deps.settings(request).shopify_client_secret
    if not shopify.webhook_is_authentic(body, request.headers.get("x-shopify-hmac-sha256"), secret):
        return JSONResponse({"error": "invalid hmac"}, status_code=401)
    topic = request.headers.get("x-shopify-topic", "")[:100]
    store = shopify.shop_domain(request.headers.get("x-shopify-shop-domain", ""))
    if store is None:
        log.info("shopify webhook %s without a valid shop domain: ignored", topic)
        return Response(status_code=200)
    async with deps.pool(request).acquire() as conn:
        handled = await webhooks.handle(
            conn,
            deps.vault(request),
            topic=topic,
            store=store,
            body=body,
            now=dt.datetime.now(dt.UTC),
        )
    log.info(
        "shopify webhook %s from %s (event %s): %s",
        topic,
        store,
        request.headers.get("x-shopify-event-id", "-")[:100],
        handled.outcome,
    )
    await enqueue_new_documents(deps.redis(request), handled.enqueue)
    return Response(status_code=200)


routes = [
    Route("/shops/{shop_id}/sources/shopify/connect", connect, methods=["GET"]),
    Route(CALLBACK_PATH, callback, methods=["GET"]),
    Route("/shops/{shop_id}/sources/shopify/backfill", start_backfill, methods=["POST"]),
    Route("/shops/{shop_id}/sources/woocommerce/backfill", start_backfill, methods=["POST"]),
    Route(
        "/shops/{shop_id}/sources/shopify/vat-number-keys", save_vat_number_keys, methods=["POST"]
    ),
    Route(
        "/shops/{shop_id}/sources/woocommerce/vat-number-keys",
        save_vat_number_keys,
        methods=["POST"],
    ),
    Route("/webhooks/shopify", webhook, methods=["POST"]),
]
