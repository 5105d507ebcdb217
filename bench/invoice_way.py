"""Which of the gateway's modules one invoice's way runs through, from the signed event to
the booked invoice: `python -m bench.invoice_way`.

One order (DESIGN.md's example) goes in through the real ingest route (the app in
process, its lifespan run) and is posted by the real `documents.post` job against the
sandbox (its own process). While that happens a profile hook records every function of
the project that runs; the script prints the modules they live in, by package, and how
many there are. Start-up, imports and the sandbox are not counted: only the way itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import uvicorn

from bench.posting import Env, consent, direct_poster, environment
from gateway.secret import Secret
from tenants.dinero.connections import linking
from tenants.shops import repository as shops
from tenants.shops.ingest_secrets import SIGNATURE_HEADER, sign
from web.app import create_app
from web.openapi import EXAMPLE_EVENT
from workers import documents

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "tenants", "web", "workers", "cli")


async def _shop(env: Env) -> tuple[str, Secret]:
    created = await env.http.post(
        f"{env.sandbox}/_sandbox/organizations", json={"name": "Invoice way", "is_pro": True}
    )
    created.raise_for_status()
    organization_id: int = created.json()["id"]
    grant = linking.Grant(
        organization_id=organization_id,
        organization_name="Invoice way",
        is_pro=True,
        tokens=await consent(env),
    )
    async with env.pool.acquire() as conn, conn.transaction():
        shop, secret = await shops.create_shop(
            conn, env.vault, name="Invoice way", owner_id=env.owner, activated_at=datetime.now(UTC)
        )
        await linking.connect_shop(
            conn, env.vault, shop_id=shop.id, grant=grant, user_id=None, now=datetime.now(UTC)
        )
    return str(shop.id), secret


@contextlib.asynccontextmanager
async def _served(app: Any) -> AsyncIterator[str]:
    """The app on uvicorn in this event loop (so the profile hook sees its requests), its
    lifespan run as in production."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise SystemExit("uvicorn did not start")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


def _module(filename: str) -> str | None:
    path = Path(filename)
    try:
        relative = path.resolve().relative_to(ROOT)
    except ValueError:
        return None
    if relative.parts[0] not in PACKAGES or relative.suffix != ".py":
        return None
    return relative.as_posix()


async def main() -> None:
    async with environment() as env:
        shop_id, secret = await _shop(env)
        app = create_app(env.settings)
        body = copy.deepcopy(EXAMPLE_EVENT)
        body["id"] = f"evt_way_{int(time.time())}"
        raw = json.dumps(body).encode()
        seen: set[str] = set()

        def profile(frame: FrameType, event: str, arg: Any) -> None:
            if event == "call":
                module = _module(frame.f_code.co_filename)
                if module is not None:
                    seen.add(module)

        async with _served(app) as url, httpx.AsyncClient(base_url=url) as web:
            sys.setprofile(profile)
            try:
                answer = await web.post(
                    f"/api/v1/shops/{shop_id}/events",
                    content=raw,
                    headers={
                        "Content-Type": "application/json",
                        SIGNATURE_HEADER: sign(secret, int(time.time()), raw),
                    },
                )
                answer.raise_for_status()
                [invoice] = answer.json()["documents"]
                ctx = {"poster": direct_poster(env), "redis": env.redis}
                outcome = await documents.post(ctx, invoice["id"])
            finally:
                sys.setprofile(None)
        if outcome != "posted":
            raise SystemExit(f"the invoice was not posted: {outcome}")
    by_package: dict[str, list[str]] = defaultdict(list)
    for module in sorted(seen):
        by_package[module.split("/")[0]].append(module)
    for package, modules in by_package.items():
        print(f"{package}/ ({len(modules)})")
        for module in modules:
            print(f"  {module}")
    folders = {module.rsplit("/", 1)[0] for module in seen}
    print(f"modules one invoice's way runs through: {len(seen)}, in {len(folders)} folders")


if __name__ == "__main__":
    asyncio.run(main())
