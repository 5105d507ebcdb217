"""The sandbox as one Starlette app: `gateway sandbox` serves it, tests mount it in-process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox import api, connect, control, mailbox
from sandbox.errors import DineroApiError, dinero_error_handler
from sandbox.shopify import admin_api as shopify_admin_api
from sandbox.shopify import control as shopify_control
from sandbox.shopify import install as shopify_install
from sandbox.shopify import store_admin as shopify_store_admin
from sandbox.shopify.state import ShopifySandbox
from sandbox.shopify.webhooks import Outbox
from sandbox.state import Sandbox
from sandbox.woocommerce import control as woocommerce_control
from sandbox.woocommerce import keyflow as woocommerce_keyflow
from sandbox.woocommerce import rest as woocommerce_rest
from sandbox.woocommerce import store_admin as woocommerce_store_admin
from sandbox.woocommerce.state import WooCommerceSandbox
from sandbox.woocommerce.webhooks import Outbox as WooCommerceOutbox

_MUTATING: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def create_sandbox_app(
    sandbox: Sandbox | None = None,
    *,
    shopify: ShopifySandbox | None = None,
    woocommerce: WooCommerceSandbox | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    mail: mailbox.Mailbox | None = None,
    smtp_address: tuple[str, int] | None = None,
) -> Starlette:
    """The sandbox app. Shopify's and WooCommerce's webhooks (and WooCommerce's key-flow
    callback) go out through `webhook_transport` (tests pass an in-process receiver; by
    default, the network). With `smtp_address` its lifespan also listens for SMTP there,
    keeping what arrives in `mail` (`sandbox.mailbox`)."""
    sandbox = sandbox if sandbox is not None else Sandbox()
    mail = mail if mail is not None else mailbox.Mailbox()
    shopify = shopify if shopify is not None else ShopifySandbox(clock=sandbox.now)
    outbox = Outbox(shopify, webhook_transport)
    woocommerce = woocommerce if woocommerce is not None else WooCommerceSandbox(clock=sandbox.now)
    woo_outbox = WooCommerceOutbox(woocommerce, webhook_transport)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        smtp = await mailbox.start_smtp(mail, *smtp_address) if smtp_address else None
        try:
            yield
        finally:
            if smtp is not None:
                smtp.close()
                await smtp.wait_closed()
            await outbox.close()
            await woo_outbox.close()

    app = Starlette(
        routes=[
            *connect.routes(),
            *api.api_routes(),
            *control.routes(),
            *api.control_routes(),
            *shopify_install.routes(),
            *shopify_admin_api.routes(),
            *shopify_control.routes(),
            *shopify_store_admin.routes(),
            *woocommerce_keyflow.routes(),
            *woocommerce_rest.routes(),
            *woocommerce_control.routes(),
            *woocommerce_store_admin.routes(),
            *mailbox.routes(),
        ],
        middleware=[Middleware(DropAfterCommit, sandbox=sandbox)],
        exception_handlers={DineroApiError: dinero_error_handler},
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    app.state.shopify = shopify
    app.state.shopify_outbox = outbox
    app.state.woocommerce = woocommerce
    app.state.woocommerce_outbox = woo_outbox
    app.state.mailbox = mail
    return app


class DroppedResponse(Exception):
    """Raised after the response has started, so the server closes the connection."""


class DropAfterCommit:
    """The "commit, then drop the response" fault.

    For a change to the Dinero API that succeeded, with the configured probability, the
    status line goes out and the connection is then cut: the client cannot tell whether the
    change happened (it did). This is the case the gateway's deterministic `Guid`s exist for.
    """

    def __init__(self, app: ASGIApp, *, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] not in _MUTATING
            or not path.startswith(("/v1/", "/v2/"))
        ):
            await self.app(scope, receive, send)
            return
        sandbox = self.sandbox
        dropping = False

        async def send_or_drop(message: Message) -> None:
            nonlocal dropping
            if message["type"] == "http.response.start":
                dropping = 200 <= message["status"] < 300 and sandbox.should_drop_response()
            elif dropping:
                return  # swallow the body; the exception below cuts the connection
            await send(message)

        await self.app(scope, receive, send_or_drop)
        if dropping:
            raise DroppedResponse("dropped the response after commit (sandbox fault)")


class DroppedResponseLogFilter(logging.Filter):
    """Turns the server's traceback for a deliberately dropped response into one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], DroppedResponse):
            record.msg, record.args = "%s", (record.exc_info[1],)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True
