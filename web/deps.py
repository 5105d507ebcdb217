"""Typed access to what the lifespan put on `request.state` (which Starlette types as Any)."""

from __future__ import annotations

from typing import Any

import httpx
from arq.connections import ArqRedis
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from gateway.db import Pool
from gateway.dinero.client import DineroClient
from gateway.dinero.oauth import VismaConnect
from gateway.metrics import Metrics
from gateway.secret import Secret
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.orders.batch import IngestBatcher
from tenants.shops.ingest_cache import IngestShops


def pool(request: Request) -> Pool:
    value: Pool = request.state.pool
    return value


def ingest_shops(request: Request) -> IngestShops:
    value: IngestShops = request.state.ingest_shops
    return value


def ingest_batcher(request: Request) -> IngestBatcher:
    value: IngestBatcher = request.state.ingest_batcher
    return value


def settings(request: Request) -> Settings:
    value: Settings = request.state.settings
    return value


def vault(request: Request) -> Vault:
    value: Vault = request.state.vault
    return value


def http(request: Request) -> httpx.AsyncClient:
    value: httpx.AsyncClient = request.state.http
    return value


def visma(request: Request) -> VismaConnect:
    """The web process's Visma Connect client (cheap: it wraps the shared HTTP client)."""
    config = settings(request)
    return VismaConnect(
        http(request),
        auth_url=config.dinero_auth_url,
        client_id=config.dinero_client_id,
        client_secret=config.dinero_client_secret,
        metrics=metrics(request),
    )


def dinero(request: Request, token: Secret) -> DineroClient:
    return DineroClient(http(request), settings(request).dinero_api_url, token)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    templates: Jinja2Templates = request.state.templates
    return templates.TemplateResponse(request, template, context or {}, status_code=status_code)


def redis(request: Request) -> ArqRedis:
    value: ArqRedis = request.state.redis
    return value


def metrics(request: Request) -> Metrics:
    """Where this process counts what happens: its tally, added to the shared Redis in the
    background."""
    return Metrics(redis(request), request.state.tally)


def wants_partial(request: Request, target: str) -> bool:
    """Whether htmx asked for just the element `#target` (not a boosted page, and not a
    history restore, which carries no `HX-Target`)."""
    return (
        request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == target
    )


def render_page_or_partial(
    request: Request,
    page: str,
    partial: str,
    context: dict[str, Any] | None = None,
    *,
    target: str,
    status_code: int = 200,
) -> Response:
    """The whole page, or only the partial it includes when htmx swaps `#target`.

    Always says `Vary: HX-Request, HX-Target`, so no cache hands a fragment to a browser
    that asked for the page (or the other way round).
    """
    template = partial if wants_partial(request, target) else page
    response = render(request, template, context, status_code=status_code)
    response.headers.add_vary_header("HX-Request")
    response.headers.add_vary_header("HX-Target")
    return response


async def body_within(request: Request, limit: int) -> bytes | None:
    """The request's body, or None as soon as it is known to exceed `limit` bytes (by its
    Content-Length, or while it streams in): a huge body is never held in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
