"""The Starlette application: `create_app(settings)` is the only way to build it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TypedDict

import httpx
import jinja2
from arq.connections import ArqRedis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from gateway.db import Pool, create_pool
from gateway.metrics import Tally
from gateway.queue import create_redis
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.orders.batch import IngestBatcher
from tenants.shops.ingest_cache import IngestShops
from web import (
    accounts,
    admin,
    auth,
    connect,
    documents,
    health,
    i18n,
    ingest,
    ingest_secret_pages,
    invites,
    mail_pages,
    metrics,
    settings_pages,
    shops,
    sources,
    team,
    woocommerce,
)
from web.errors import ErrorPageMiddleware, http_exception_handler
from web.middleware import RequestContextMiddleware, SecurityHeadersMiddleware

log = logging.getLogger(__name__)


class State(TypedDict):
    """What the lifespan hands to every request as `request.state.<name>`."""

    settings: Settings
    pool: Pool
    redis: ArqRedis
    http: httpx.AsyncClient
    vault: Vault
    templates: Jinja2Templates
    ingest_shops: IngestShops
    ingest_batcher: IngestBatcher
    tally: Tally


def create_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    return Jinja2Templates(
        env=env, context_processors=[auth.template_context, i18n.template_context]
    )


def create_app(settings: Settings) -> Starlette:
    templates = create_templates()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        pool = await create_pool(settings.database_url, application_name="gateway-web")
        redis = create_redis(settings.redis_url)
        http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
        vault = Vault(settings.token_keys)
        batcher = IngestBatcher(settings.database_url, redis)
        tally = Tally(redis)
        try:
            yield State(
                settings=settings,
                pool=pool,
                redis=redis,
                http=http,
                vault=vault,
                templates=templates,
                ingest_shops=IngestShops(vault),
                ingest_batcher=batcher,
                tally=tally,
            )
        finally:
            await batcher.close()
            await tally.close()
            await http.aclose()
            await redis.aclose()
            await pool.close()

    routes: list[BaseRoute] = [
        # First: Starlette tries routes in turn, and ingest is the hot path.
        *ingest.routes,
        *shops.routes,
        *documents.routes,
        *settings_pages.routes,
        *ingest_secret_pages.routes,
        *accounts.routes,
        *mail_pages.routes,
        *invites.routes,
        *admin.routes,
        *connect.routes,
        *health.routes,
        *metrics.routes,
        *sources.routes,
        *woocommerce.routes,
        *team.routes,
        Mount("/static", app=StaticFiles(packages=[("web", "static")]), name="static"),
    ]
    return Starlette(
        debug=False,  # never: the debug page would show locals, settings and tokens
        routes=routes,
        middleware=[
            Middleware(RequestContextMiddleware),
            Middleware(
                SecurityHeadersMiddleware,
                hsts=settings.is_production,
                form_targets=(settings.shopify_stores_origin, *_woocommerce_stores(settings)),
            ),
            Middleware(ErrorPageMiddleware, templates=templates),
        ],
        exception_handlers={
            HTTPException: http_exception_handler(templates),
            auth.LoginRequired: auth.login_redirect,
        },
        lifespan=lifespan,
    )


def _woocommerce_stores(settings: Settings) -> tuple[str, ...]:
    """Where Connect WooCommerce may send the browser (browsers check the redirect after a
    form against form-action): any https store; in development also the local sandbox."""
    if settings.is_production:
        return ("https:",)
    return ("https:", "http://127.0.0.1:*", "http://localhost:*")
