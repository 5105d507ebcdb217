"""Dashboard benchmark: server-side p50/p95 of the owner's and the admin's pages on the
database `bench.seed_dashboard` made (10,000 shops, 1,000,000 documents). Target p95 < 100 ms.

    .venv/bin/python -m bench.seed_dashboard      # once, about two minutes
    .venv/bin/python -m bench.dashboard           # 200 timed requests a page
    .venv/bin/python -m bench.dashboard --requests 50 --only documents

What is timed: the app itself, `web.app.create_app(settings)` with its lifespan (pool, Redis),
in this process, called through httpx's ASGI transport one request at a time. The clock runs
from the ASGI call until the app hands over the last piece of the response body: session
lookup, every query, the template. Not timed: an HTTP server and its socket (the same for
every page), the client, and background tasks that run after the response. The shop page
starts one of those, a probe of its connection against Dinero, at most every few seconds per
connection; its Redis claim is taken here for the benchmarked connections beforehand, so
no probe runs (the page still pays for asking Redis), and Dinero's URLs point at a closed
local port in case one does.

Who asks: the seed's big owner (`OWNER_EMAIL`, 150 shops), and its platform admin, logged in
through the real login form. Each page gets a few untimed warm-up requests first; then the
pages take turns, one request each, so a busy moment weighs on all of them alike (the ratios
to the small shop's page hold on a busy machine). Requests that vary (searches, deep pages)
cycle through several values. Redis: an empty database number is claimed and flushed at the
end, as `bench.ingest` does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import statistics
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Final
from uuid import UUID

import httpx
from redis.asyncio import Redis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bench.environment import empty_redis
from bench.seed_dashboard import ADMIN_EMAIL, DEFAULT_URL, OWNER_EMAIL, PASSWORD
from gateway.db import connect
from gateway.settings import Settings
from web.app import create_app

RELATIVE_TARGET: Final = 5.0  # an admin page's p95 against the small shop page's
TARGET_MS: Final = 100.0
_CLOSED_PORT: Final = "http://127.0.0.1:9"  # discard: nothing listens there


@dataclass(frozen=True)
class Page:
    group: str  # "owner", "documents" or "admin": what --only picks
    name: str
    who: str  # "owner" or "admin"
    urls: Sequence[str]  # cycled through
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Timings:
    """Server-side milliseconds per request, filled by `TimedApp`."""

    samples: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)


class TimedApp:
    """Times each call from its start until the last body message is sent; also hands every
    request the lifespan's state, as a server does."""

    def __init__(self, app: ASGIApp, state: dict[str, object]) -> None:
        self.app = app
        self.state = state
        self.timings = Timings()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["state"] = dict(self.state)
        started = time.perf_counter()
        done = False

        async def timed_send(message: Message) -> None:
            nonlocal done
            if message["type"] == "http.response.start":
                status = message["status"]
                self.timings.statuses[status] = self.timings.statuses.get(status, 0) + 1
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                if not done:
                    self.timings.samples.append((time.perf_counter() - started) * 1000)
                done = True

        await self.app(scope, receive, timed_send)


def percentile(samples: Sequence[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


# --- setting up --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subjects:
    big_shop: UUID
    big_shop_documents: int
    small_shop: UUID
    small_shop_documents: int
    connections: list[UUID]
    order_numbers: list[str]  # of the big shop, for searches
    deep_cursors: list[int]  # big-shop document ids two to eleven months back


async def find_subjects(database_url: str) -> Subjects:
    """The owner's biggest shop and one of about 100 documents, from the seeded data."""
    conn = await connect(database_url, application_name="bench-dashboard")
    try:
        rows = await conn.fetch(
            "SELECT s.id, s.connection_id, count(d.id) AS n FROM users u "
            "JOIN memberships m ON m.user_id = u.id JOIN shops s ON s.id = m.shop_id "
            "LEFT JOIN documents d ON d.shop_id = s.id WHERE u.email = $1 "
            "GROUP BY s.id ORDER BY n DESC",
            OWNER_EMAIL,
        )
        if not rows:
            raise SystemExit(f"{OWNER_EMAIL} has no shops here: run bench.seed_dashboard first")
        big = rows[0]
        small = min(rows, key=lambda r: (abs(r["n"] - 100), r["id"]))
        numbers = await conn.fetch(
            "SELECT number FROM orders WHERE shop_id = $1 ORDER BY random() LIMIT 20", big["id"]
        )
        # Cursors for "older than this document", as the pager's links carry them.
        deep = await conn.fetch(
            "SELECT id FROM documents WHERE shop_id = $1 ORDER BY created_at DESC, id DESC "
            "OFFSET $2 LIMIT 1",
            big["id"],
            big["n"] // 6,
        )
        cursors = await conn.fetch(
            "SELECT id FROM documents WHERE shop_id = $1 AND id < $2 ORDER BY random() LIMIT 20",
            big["id"],
            deep[0]["id"] if deep else 0,
        )
    finally:
        await conn.close()
    return Subjects(
        big_shop=big["id"],
        big_shop_documents=big["n"],
        small_shop=small["id"],
        small_shop_documents=small["n"],
        connections=[r["connection_id"] for r in (big, small) if r["connection_id"]],
        order_numbers=[r["number"] for r in numbers],
        deep_cursors=[r["id"] for r in cursors],
    )


def pages(subjects: Subjects) -> list[Page]:
    big, small = subjects.big_shop, subjects.small_shop
    documents = f"/shops/{big}/documents"
    searches = [f"{documents}?q={n}" for n in subjects.order_numbers]
    deep = [f"{documents}?before={c}" for c in subjects.deep_cursors]
    deep_posted = [f"{documents}?state=posted&before={c}" for c in subjects.deep_cursors]
    return [
        Page("owner", "shop list (home, 150 shops)", "owner", ["/"]),
        Page("owner", f"shop page, big shop ({subjects.big_shop_documents:,} docs)", "owner",
             [f"/shops/{big}"]),
        Page("owner", f"shop page, small shop ({subjects.small_shop_documents:,} docs)",
             "owner", [f"/shops/{small}"]),
        Page("documents", "documents, first page (big shop)", "owner", [documents]),
        Page("documents", "documents, state=failed", "owner", [f"{documents}?state=failed"]),
        Page("documents", "documents, order-number search", "owner", searches),
        Page("documents", "documents, deep page (before=, 2-11 months)", "owner", deep),
        Page("documents", "documents, deep page, state=posted", "owner", deep_posted),
        Page("documents", "documents, small shop", "owner", [f"/shops/{small}/documents"]),
        Page("admin", "admin, needs-reconnect list", "admin", ["/admin?filter=needs_reconnect"]),
        Page("admin", "admin, needs-reconnect list (htmx partial)", "admin",
             ["/admin?filter=needs_reconnect"],
             {"HX-Request": "true", "HX-Target": "connections"}),
        Page("admin", "admin, connections list (unfiltered)", "admin", ["/admin"]),
        Page("admin", "admin, shop page (big shop)", "admin", [f"/admin/shops/{big}"]),
    ]  # fmt: skip


async def log_in(client: httpx.AsyncClient, email: str) -> None:
    await client.get("/login")
    token = client.cookies.get("gw_form") or ""
    response = await client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
    )
    if response.status_code != 303 or not client.cookies.get("gw_session"):
        raise SystemExit(f"could not log in as {email}: {response.status_code}")


# --- the run -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[TimedApp]:
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        yield TimedApp(app, dict(state or {}))


async def measure(
    timed: TimedApp,
    clients: dict[str, httpx.AsyncClient],
    chosen: Sequence[Page],
    *,
    requests: int,
    warm_up: int,
) -> list[Timings]:
    """Each page's timings, the pages taking turns request by request: whatever else the
    machine does meanwhile weighs on every page alike, so their ratios hold on a busy one."""
    for page in chosen:
        for n in range(warm_up):
            await clients[page.who].get(page.urls[n % len(page.urls)], headers=page.headers)
    timings = [Timings() for _ in chosen]
    for n in range(requests):
        for page, own in zip(chosen, timings, strict=True):
            timed.timings = own
            await clients[page.who].get(page.urls[n % len(page.urls)], headers=page.headers)
    return timings


async def main(args: argparse.Namespace) -> None:
    subjects = await find_subjects(args.database_url)
    with empty_redis(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0") as redis_url:
        settings = Settings.from_env(
            {
                "GATEWAY_ENV": "development",
                "DATABASE_URL": args.database_url,
                "REDIS_URL": redis_url,
                "DINERO_AUTH_URL": _CLOSED_PORT,
                "DINERO_API_URL": _CLOSED_PORT,
            }
        )
        redis = Redis.from_url(redis_url)
        for connection_id in subjects.connections:
            # web.shops' probe claim: taken, so the shop page never starts a probe.
            await redis.set(f"gateway:probe:{connection_id}", "bench", ex=3600)
        await redis.aclose()
        async with running_app(settings) as timed:
            transport = httpx.ASGITransport(app=timed)
            async with (
                httpx.AsyncClient(transport=transport, base_url="http://bench") as owner,
                httpx.AsyncClient(transport=transport, base_url="http://bench") as admin,
            ):
                await log_in(owner, OWNER_EMAIL)
                await log_in(admin, ADMIN_EMAIL)
                clients = {"owner": owner, "admin": admin}
                print(
                    f"{args.requests} requests a page after {args.warm_up} untimed, one at a "
                    "time, the pages taking turns, server-side (in-process ASGI); target p95 "
                    f"< {TARGET_MS:.0f} ms"
                )
                load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
                print(f"machine: {os.cpu_count()} CPUs, load average {load} at the start")
                print(f"{'page':<52} {'p50':>8} {'p95':>8} {'max':>8} {'mean':>8}  status")
                chosen = [p for p in pages(subjects) if not args.only or p.group in args.only]
                measured = await measure(
                    timed, clients, chosen, requests=args.requests, warm_up=args.warm_up
                )
                p95s: dict[str, float] = {}
                for page, timings in zip(chosen, measured, strict=True):
                    report(page, timings)
                    if timings.samples:
                        p95s[page.name] = percentile(timings.samples, 95)
                relative_to_small_shop(p95s)


def report(page: Page, timings: Timings) -> None:
    samples = timings.samples
    if not samples:
        print(f"{page.name:<52} no responses")
        return
    p95 = percentile(samples, 95)
    flag = "" if p95 < TARGET_MS else "  OVER TARGET"
    statuses = ", ".join(f"{code}×{n}" for code, n in sorted(timings.statuses.items()))
    print(
        f"{page.name:<52} {percentile(samples, 50):7.1f}  {p95:7.1f}  {max(samples):7.1f}  "
        f"{statistics.fmean(samples):7.1f}  {statuses}{flag}",
        flush=True,
    )


def relative_to_small_shop(p95s: dict[str, float]) -> None:
    """The admin's pages against the small shop's page measured in the same run: a busy
    machine slows both, so the ratio says what the absolute figure cannot (target <= 5x)."""
    small = next((v for k, v in p95s.items() if k.startswith("shop page, small shop")), None)
    if small is None:
        return
    for name, p95 in p95s.items():
        if name.startswith("admin"):
            ratio = p95 / small
            flag = "" if ratio <= RELATIVE_TARGET else "  OVER TARGET"
            print(f"p95 of {name!r} / the small shop page's: {ratio:.1f}x{flag}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--requests", type=int, default=200, help="timed requests a page")
    parser.add_argument("--warm-up", type=int, default=10, help="untimed requests a page")
    parser.add_argument(
        "--only", action="append", choices=("owner", "documents", "admin"), help="repeatable"
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
