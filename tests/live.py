"""ASGI apps on real uvicorn, on a free port, inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import httpx
import uvicorn
from starlette.types import ASGIApp

from sandbox.app import DroppedResponseLogFilter, create_sandbox_app
from sandbox.state import Sandbox


@contextlib.asynccontextmanager
async def serve(
    app: ASGIApp, *, lifespan: Literal["auto", "on", "off"] = "off"
) -> AsyncIterator[str]:
    """Serves `app` on 127.0.0.1 and a free port; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan=lifespan, log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(1000):
            if server.started or task.done():
                break
            await asyncio.sleep(0.005)
        if not server.started:
            await task  # raises what stopped it
            raise RuntimeError("uvicorn did not start")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass(frozen=True)
class LiveSandbox:
    url: str
    sandbox: Sandbox


@contextlib.asynccontextmanager
async def live_sandbox(
    sandbox: Sandbox | None = None,
    *,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    smtp_port: int | None = None,
) -> AsyncIterator[LiveSandbox]:
    """The sandbox on real uvicorn; its Shopify webhooks go out through `webhook_transport`
    (e.g. to a gateway in-process) or the network. With `smtp_port` it also takes mail
    there, as under `gateway dev`, shown at `/_sandbox/mail`."""
    sandbox = sandbox or Sandbox()
    log_filter = DroppedResponseLogFilter()
    logging.getLogger("uvicorn.error").addFilter(log_filter)
    try:
        app = create_sandbox_app(
            sandbox,
            webhook_transport=webhook_transport,
            smtp_address=("127.0.0.1", smtp_port) if smtp_port is not None else None,
        )
        async with serve(app, lifespan="on") as url:
            yield LiveSandbox(url=url, sandbox=sandbox)
    finally:
        logging.getLogger("uvicorn.error").removeFilter(log_filter)
