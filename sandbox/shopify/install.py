"""The app install, Shopify's authorization code grant: the grant page at
`{store}/admin/oauth/authorize`, its Install button, the redirect back to the app with
`code`, `hmac`, `host`, `shop`, `state` and `timestamp`, and the code exchange at
`{store}/admin/oauth/access_token` (JSON or form; codes are single-use and short-lived).

The redirect's `hmac` is what Shopify documents: the other parameters sorted by name, joined
as `name=value&…`, HMAC-SHA256 keyed with the app's client secret, hex. Redirect URIs must
point at a local host (Shopify checks them against the app's allowed URLs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Final
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.connect import templates
from sandbox.shopify.state import APP_SCOPES, App, ShopifySandbox, Store, shopify_of

_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self' http://localhost:* "
    "http://127.0.0.1:*",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


def routes() -> list[BaseRoute]:
    return [
        Route("/_shopify/{shop}/admin/oauth/authorize", authorize, methods=["GET", "POST"]),
        Route("/_shopify/{shop}/admin/oauth/access_token", access_token, methods=["POST"]),
    ]


class _Refused(Exception):
    pass


def callback_hmac(params: dict[str, str], secret: str) -> str:
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _redirect_allowed(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https") and parts.hostname in _LOCAL_HOSTS and not parts.fragment
    )


def _grant(
    shopify: ShopifySandbox, shop: str, params: QueryParams | FormData
) -> tuple[Store, App, list[str], str, str]:
    store = shopify.stores.get(shop.lower())
    if store is None:
        raise _Refused("There is no store at this address.")
    app = shopify.apps.get(str(params.get("client_id") or ""))
    if app is None:
        raise _Refused("The app's client_id is not known.")
    redirect_uri = str(params.get("redirect_uri") or "")
    if not _redirect_allowed(redirect_uri):
        raise _Refused("The redirect_uri is not whitelisted for this app.")
    scopes = [s.strip() for s in str(params.get("scope") or "").split(",") if s.strip()]
    if not scopes or not set(scopes) <= APP_SCOPES:
        raise _Refused("The app asked for an unknown scope.")
    return store, app, scopes, redirect_uri, str(params.get("state") or "")


async def authorize(request: Request) -> Response:
    shopify = shopify_of(request)
    params = await request.form() if request.method == "POST" else request.query_params
    try:
        store, app, scopes, redirect_uri, state = _grant(
            shopify, request.path_params["shop"], params
        )
    except _Refused as exc:
        return JSONResponse({"errors": str(exc)}, status_code=400)
    if request.method == "GET":
        hidden = {
            "client_id": app.client_id,
            "scope": ",".join(scopes),
            "redirect_uri": redirect_uri,
            "state": state,
        }
        return templates.TemplateResponse(
            request,
            "shopify_install.html",
            {"app": app, "shop": store.shop, "scopes": scopes, "hidden": hidden,
             "action": request.url.path},
            headers=_PAGE_HEADERS,
        )  # fmt: skip
    code = shopify.issue_code(store, app.client_id, ",".join(scopes))
    host = f"admin.shopify.com/store/{store.shop.removesuffix('.myshopify.com')}"
    fields = {
        "code": code,
        "host": base64.b64encode(host.encode()).decode().rstrip("="),
        "shop": store.shop,
        "state": state,
        "timestamp": str(int(shopify.now().timestamp())),
    }
    fields["hmac"] = callback_hmac(fields, app.secret)
    parts = urlsplit(redirect_uri)
    query = f"{parts.query}&{urlencode(fields)}" if parts.query else urlencode(fields)
    return RedirectResponse(urlunsplit(parts._replace(query=query)), status_code=302)


async def access_token(request: Request) -> Response:
    shopify = shopify_of(request)
    store = shopify.stores.get(request.path_params["shop"].lower())
    if store is None:
        return JSONResponse({"errors": "Not Found"}, status_code=404)
    fields: dict[str, object]
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        fields = body if isinstance(body, dict) else {}
    else:
        fields = dict(await request.form())
    client_id, secret, code = (fields.get(k) for k in ("client_id", "client_secret", "code"))
    if not all(isinstance(v, str) and v for v in (client_id, secret, code)):
        return _token_error("invalid_request", "client_id, client_secret and code are required")
    assert isinstance(client_id, str) and isinstance(secret, str) and isinstance(code, str)
    app = shopify.authenticate_app(client_id, secret)
    if app is None:
        return _token_error("invalid_client", "Client credentials are invalid")
    granted = shopify.redeem_code(store, app, code)
    if granted is None:
        return _token_error(
            "invalid_request", "The authorization code was not found or was already used"
        )
    token, scope = granted
    return JSONResponse({"access_token": token, "scope": scope})


def _token_error(error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=400)
