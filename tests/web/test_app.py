import hashlib
import re
from dataclasses import replace
from importlib import resources

import httpx
from starlette.routing import Route

from gateway.settings import Settings
from tests.conftest import app_client
from web import assets
from web.app import create_app


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_everything_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_readyz_names_redis_when_it_is_down(settings: Settings) -> None:
    # Port 1 on loopback refuses connections; the app still starts (Redis is optional to serve).
    down = replace(settings, redis_url="redis://127.0.0.1:1/0")
    async for client in app_client(create_app(down)):
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failing": ["redis"]}


async def test_readyz_names_postgres_when_it_is_down(settings: Settings) -> None:
    app = create_app(settings)
    async for client in app_client(app):
        # Simulate losing the database after start-up: the pool can hand out nothing.
        transport = client._transport
        assert isinstance(transport, httpx.ASGITransport)
        await transport.app.state["pool"].close()  # type: ignore[attr-defined]
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["postgres"]


async def test_security_headers_and_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers={"X-Request-ID": "abc12345-from-proxy"})
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    # Forms post here, Connect Shopify's is sent on to the store's grant screen, and Connect
    # WooCommerce's to the key page of a store on any https host (or the local sandbox).
    assert (
        "form-action 'self' https://*.myshopify.com https: http://127.0.0.1:* http://localhost:*;"
        in csp
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-request-id"] == "abc12345-from-proxy"
    # A header that could smuggle log lines is replaced, not echoed.
    response = await client.get("/", headers={"X-Request-ID": "bad id\r\nx"})
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["x-request-id"])


async def test_pages_load_vendored_htmx_and_no_inline_script(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    assert '<script src="/static/htmx.min.js" defer></script>' in page
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) is None, "inline script found"
    assert re.search(r"\sstyle=", page) is None, "inline style found"
    script = await client.get("/static/htmx.min.js")
    assert script.status_code == 200
    # Every asset the layout links to is served (a missing one shows as a console error).
    for path in re.findall(r'(?:src|href)="(/static/[^"]+)"', page):
        assert (await client.get(path)).status_code == 200, path


def test_vendored_htmx_matches_recorded_checksum() -> None:
    data = resources.files("web").joinpath("static/htmx.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == assets.HTMX_SHA256
    assert f'version:"{assets.HTMX_VERSION}"' in data.decode()
    recorded = resources.files("web").joinpath("static/VENDORED.md").read_text()
    assert assets.HTMX_SHA256 in recorded and assets.HTMX_VERSION in recorded


async def test_not_found_page_leaks_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert "Not found" in response.text
    assert "Traceback" not in response.text
    api = await client.get("/api/v1/nothing")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"


async def test_server_error_page_leaks_nothing(settings: Settings) -> None:
    app = create_app(settings)

    async def explode(request: object) -> None:
        raise RuntimeError("access_token=SECRET-TOKEN-VALUE in /srv/gateway/internal.py")

    app.router.routes.append(Route("/explode", explode))
    async for client in app_client(app):
        transport = client._transport
        assert isinstance(transport, httpx.ASGITransport)
        transport.raise_app_exceptions = False
        response = await client.get("/explode")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    for leak in ("SECRET-TOKEN-VALUE", "Traceback", "internal.py", "RuntimeError"):
        assert leak not in response.text
    assert response.headers["content-security-policy"]
