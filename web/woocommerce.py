"""WooCommerce as a source: connecting a store with its one-click key flow, and its webhooks.

`GET /shops/{shop_id}/sources/woocommerce/connect?store_url=…` → the store's key-flow page →
the store POSTs the keys to `POST /oauth/woocommerce/callback` (no session: it is the store's
server speaking; the single-use state it carries back is the proof) → the browser returns to
`GET /shops/{shop_id}/sources/woocommerce/return` → the shop page.
`POST /webhooks/woocommerce/{source_id}`: the signature is checked over the raw body before
anything is parsed (`tenants.sources.woocommerce.webhooks`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Final
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from gateway.woocommerce.keys import MAX_CALLBACK_BYTES, BadStoreUrl
from tenants.orders.ingest import enqueue_new_documents
from tenants.sources.woocommerce import connect as key_flow
from tenants.sources.woocommerce import webhooks
from web import auth, deps, ingest
from web.connect import problem_page
from web.shops import shop_for_request

log = logging.getLogger(__name__)

# A WooCommerce order with every line, tax and meta field is far below this.
MAX_WEBHOOK_BYTES: Final = 5 * 1024 * 1024


@auth.permission("manage")
async def connect(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    try:
        url = await key_flow.start(
            deps.pool(request),
            deps.settings(request),
            session_hash=session.id_hash,
            user_id=session.user.id,
            shop_id=shop.id,
            store_url=request.query_params.get("store_url", "")[:1000],
            now=auth.now(),
        )
    except BadStoreUrl as exc:
        return problem_page(request, "That store address cannot be used", str(exc), shop_id=shop.id)
    return RedirectResponse(url, status_code=303)


async def callback(request: Request) -> Response:
    body = await deps.body_within(request, MAX_CALLBACK_BYTES)
    if body is None:
        return JSONResponse({"error": "payload too large"}, status_code=413)
    try:
        connected = await key_flow.receive_keys(
            deps.pool(request),
            deps.vault(request),
            deps.http(request),
            deps.settings(request),
            body=body,
            now=auth.now(),
        )
    except key_flow.ConnectFailed as exc:
        log.info("woocommerce key callback refused: %s", exc)
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"connected": str(connected.source_id)})


@auth.permission("manage")
async def returned(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    try:
        await key_flow.returned(
            deps.pool(request),
            session_hash=session.id_hash,
            shop_id=shop.id,
            state=request.query_params.get("user_id", "")[:200],
            success=request.query_params.get("success") == "1",
        )
    except key_flow.ConnectFailed as exc:
        return problem_page(request, "The store was not connected", str(exc), shop_id=shop.id)
    return RedirectResponse(f"/shops/{shop.id}#sources", status_code=303)


async def webhook(request: Request) -> Response:
    return await ingest.counted(request, "woocommerce", _webhook)


async def _webhook(request: Request) -> Response:
    try:
        source_id = UUID(str(request.path_params["source_id"]))
    except ValueError:
        return JSONResponse({"error": "no such source"}, status_code=404)
    body = await deps.body_within(request, MAX_WEBHOOK_BYTES)
    if body is None:
        return JSONResponse({"error": "payload too large"}, status_code=413)
    topic = request.headers.get("x-wc-webhook-topic", "")[:100]
    received = await webhooks.receive(
        deps.pool(request),
        deps.vault(request),
        deps.http(request),
        deps.settings(request),
        source_id=source_id,
        topic=topic,
        webhook_id=request.headers.get("x-wc-webhook-id", "")[:30] or None,
        signature_header=request.headers.get("x-wc-webhook-signature"),
        body=body,
        now=dt.datetime.now(dt.UTC),
    )
    log.info(
        "woocommerce webhook %s for source %s (delivery %s): %s",
        topic or "-",
        source_id,
        request.headers.get("x-wc-webhook-delivery-id", "-")[:100],
        received.outcome,
    )
    if received.status != 200:
        return JSONResponse({"error": received.outcome}, status_code=received.status)
    await enqueue_new_documents(deps.redis(request), received.enqueue)
    return Response(status_code=200)


routes = [
    Route("/shops/{shop_id}/sources/woocommerce/connect", connect, methods=["GET"]),
    Route(key_flow.CALLBACK_PATH, callback, methods=["POST"]),
    Route("/shops/{shop_id}/sources/woocommerce/return", returned, methods=["GET"]),
    Route("/webhooks/woocommerce/{source_id}", webhook, methods=["POST"]),
]
