"""WooCommerce's one-click key flow (`WC_Auth`): `GET {store}/wc-auth/v1/authorize` with
`app_name`, `scope` (read, write or read_write), `user_id`, `return_url` and `callback_url`
shows the store owner a page with an Approve button; approving makes a consumer key and
secret, POSTs them as JSON `{key_id, user_id, consumer_key, consumer_secret,
key_permissions}` to `callback_url`, and sends the browser to `return_url` with `success=1`
and `user_id`. When the callback does not answer 2xx the keys are revoked and the owner sees
an error, as WooCommerce does. Deny sends the browser to `return_url` with `success=0`.

WooCommerce requires `callback_url` to be https; the sandbox also takes http on a local host,
where the gateway under development listens.
"""

from __future__ import annotations

import json
from typing import Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.connect import templates
from sandbox.woocommerce.state import woocommerce_of
from sandbox.woocommerce.webhooks import outbox_of

SCOPES: Final = frozenset({"read", "write", "read_write"})
_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    # Approving redirects to the app's return_url, which browsers check against form-action.
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self' https: http://localhost:* "
    "http://127.0.0.1:*",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
_FIELDS: Final = ("app_name", "scope", "user_id", "return_url", "callback_url")


def routes() -> list[BaseRoute]:
    return [Route("/_woocommerce/{name}/wc-auth/v1/authorize", authorize, methods=["GET", "POST"])]


def _url_allowed(url: str) -> bool:
    """https anywhere, or http on a local host (the sandbox's one relaxation)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS


def _with(url: str, **params: str) -> str:
    parts = urlsplit(url)
    extra = urlencode(params)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


async def authorize(request: Request) -> Response:
    woocommerce = woocommerce_of(request)
    store = woocommerce.stores.get(request.path_params["name"])
    if store is None:
        return JSONResponse({"code": "rest_no_route", "message": "No such store."}, 404)
    params = await request.form() if request.method == "POST" else request.query_params
    given = {name: str(params.get(name) or "") for name in _FIELDS}
    missing = [name for name, value in given.items() if not value]
    if missing:
        return _error(f"Missing parameter {missing[0]}")
    if given["scope"] not in SCOPES:
        return _error("Invalid scope")
    if not _url_allowed(given["callback_url"]):
        return _error("The callback_url needs to be over SSL")
    if not _url_allowed(given["return_url"]):
        return _error("Invalid return_url")
    if request.method == "GET":
        return templates.TemplateResponse(
            request,
            "woocommerce_authorize.html",
            {"store": store.name, "app_name": given["app_name"], "scope": given["scope"],
             "hidden": given, "action": request.url.path},
            headers=_PAGE_HEADERS,
        )  # fmt: skip
    if params.get("decision") != "approve":
        return RedirectResponse(
            _with(given["return_url"], success="0", user_id=given["user_id"]), 302
        )
    key = woocommerce.issue_key(
        store, user_id=given["user_id"], scope=given["scope"], app_name=given["app_name"]
    )
    body = {
        "key_id": key.key_id,
        "user_id": key.user_id,
        "consumer_key": key.consumer_key,
        "consumer_secret": key.consumer_secret,
        "key_permissions": key.permissions,
    }
    try:
        answer = (
            await outbox_of(request)
            .http()
            .post(
                given["callback_url"],
                content=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
        )
        accepted = 200 <= answer.status_code < 300
    except httpx.HTTPError:
        accepted = False
    if not accepted:
        store.keys.pop(key.consumer_key, None)
        return _error(
            "An error occurred in the request and at the time were unable to send the consumer data"
        )
    return RedirectResponse(_with(given["return_url"], success="1", user_id=key.user_id), 302)


def _error(message: str) -> Response:
    return HTMLResponse(
        f"<!doctype html><title>Error</title><p>Error: {_escape(message)}</p>",
        status_code=400,
        headers=_PAGE_HEADERS,
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
