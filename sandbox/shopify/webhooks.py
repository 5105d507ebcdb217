"""Webhook deliveries as Shopify makes them: a POST of the JSON body to each subscribed
callback URL, signed (`X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the raw body keyed with
the app's client secret), from a background task so the control call that caused it never
waits. A delivery that is not answered 2xx within 5 seconds is retried with the original
payload, 8 times over about 4 hours, then given up (shopify.dev changelog, "updates to webhook
retry mechanism"; Shopify does not publish the intervals, `RETRY_DELAYS` are the sandbox's).

Ids: `X-Shopify-Event-Id` names the event and stays the same on every retry and duplicate;
`X-Shopify-Webhook-Id` names one delivery to one subscription and stays the same across that
delivery's retries, so a duplicate (the fault) arrives with a new webhook id and the old
event id, which is why receivers dedupe on the event id.

Faults (`POST /_sandbox/shopify/faults`): `drop_rate` (Shopify gave up: never sent),
`duplicate_rate` (the same event sent twice), `delay_ms` (before each send), `reorder`
(pending deliveries go out shuffled), `retry_scale` (the retry schedule runs that many times
faster).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

import httpx
from starlette.requests import Request

from sandbox.shopify.state import ShopifySandbox, Store, Subscription

log = logging.getLogger(__name__)

TIMEOUT: Final = httpx.Timeout(5.0, connect=1.0)
# Seconds before retry 1..8: about four hours in all (14,280 s).
RETRY_DELAYS: Final = (60, 120, 300, 600, 1200, 2400, 3600, 6000)
DEFAULT_API_VERSION: Final = "2025-10"


@dataclass(frozen=True)
class _Job:
    shop: str
    topic: str
    url: str
    secret: str
    api_version: str
    body: bytes
    event_id: str
    webhook_id: str
    triggered_at: str
    attempt: int
    due: float


class Outbox:
    """Pending deliveries, the task that sends them, and the log of every attempt."""

    def __init__(
        self, shopify: ShopifySandbox, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._shopify = shopify
        self._transport = transport
        self._pending: list[_Job] = []
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        self.log: list[dict[str, Any]] = []

    def forget(self) -> None:
        """Drops what is waiting to be sent and the log (a reset); sends under way finish."""
        self._pending.clear()
        self.log.clear()

    # -- publishing -----------------------------------------------------------------

    def publish(
        self,
        store: Store,
        topic: str,
        body: dict[str, Any],
        *,
        subscriptions: list[Subscription] | None = None,
    ) -> str:
        """Queues `topic` with `body` for every subscription to it; answers the event id."""
        event_id = str(uuid.uuid4())
        triggered_at = _rfc3339(self._shopify.now())
        raw = json.dumps(body, separators=(",", ":")).encode()
        targets = subscriptions if subscriptions is not None else store.subscriptions
        for subscription in targets:
            if subscription.topic != topic:
                continue
            app = self._shopify.apps.get(subscription.client_id)
            if app is None:
                continue
            job = _Job(
                shop=store.shop,
                topic=topic,
                url=subscription.callback_url,
                secret=app.secret,
                api_version=subscription.api_version or DEFAULT_API_VERSION,
                body=raw,
                event_id=event_id,
                webhook_id=str(uuid.uuid4()),
                triggered_at=triggered_at,
                attempt=1,
                due=0.0,
            )
            faults = self._shopify.faults
            if faults.drop_rate > 0 and self._shopify.rng.random() < faults.drop_rate:
                self._record(job, None, "dropped")
                continue
            self._queue(job)
            if faults.duplicate_rate > 0 and self._shopify.rng.random() < faults.duplicate_rate:
                self._queue(replace(job, webhook_id=str(uuid.uuid4())))
        return event_id

    def _queue(self, job: _Job, delay: float = 0.0) -> None:
        loop = asyncio.get_running_loop()
        delay += self._shopify.faults.delay_ms / 1000
        self._pending.append(replace(job, due=loop.time() + delay))
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run(), name="shopify-webhooks")
        self._wake.set()

    # -- sending --------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            now = loop.time()
            due = [job for job in self._pending if job.due <= now]
            if due:
                self._pending = [job for job in self._pending if job.due > now]
                if self._shopify.faults.reorder:
                    self._shopify.rng.shuffle(due)
                for job in due:
                    task = loop.create_task(self._attempt(job))
                    self._sending.add(task)
                    task.add_done_callback(self._sending.discard)
                    await asyncio.sleep(0)  # let each send start in the order chosen
                continue
            timeout = min((job.due for job in self._pending), default=now + 3600) - now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(timeout, 0.001))

    async def _attempt(self, job: _Job) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient(transport=self._transport, timeout=TIMEOUT)
        digest = hmac.new(job.secret.encode(), job.body, hashlib.sha256).digest()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": job.topic,
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Shop-Domain": job.shop,
            "X-Shopify-Webhook-Id": job.webhook_id,
            "X-Shopify-Event-Id": job.event_id,
            "X-Shopify-Triggered-At": job.triggered_at,
            "X-Shopify-API-Version": job.api_version,
        }
        status: int | None = None
        try:
            response = await self._http.post(job.url, content=job.body, headers=headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            log.info("shopify sandbox: %s to %s failed (%s)", job.topic, job.url, exc)
        if status is not None and 200 <= status < 300:
            self._record(job, status, "delivered")
        elif job.attempt > len(RETRY_DELAYS):
            self._record(job, status, "given_up")
        else:
            self._record(job, status, "failed")
            scale = max(self._shopify.faults.retry_scale, 1e-9)
            self._queue(
                replace(job, attempt=job.attempt + 1), RETRY_DELAYS[job.attempt - 1] / scale
            )

    def _record(self, job: _Job, status: int | None, outcome: str) -> None:
        self.log.append(
            {
                "shop": job.shop,
                "topic": job.topic,
                "callback_url": job.url,
                "webhook_id": job.webhook_id,
                "event_id": job.event_id,
                "attempt": job.attempt if outcome != "dropped" else 0,
                "status_code": status,
                "outcome": outcome,
                "at": _rfc3339(self._shopify.now()),
            }
        )

    # -- life -----------------------------------------------------------------------

    async def close(self) -> None:
        """Stops sending: pending deliveries are forgotten, sends under way cancelled."""
        tasks = [*self._sending, *([self._worker] if self._worker else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._worker = None
        self._pending.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def outbox_of(request: Request) -> Outbox:
    """The outbox of the app serving `request` (`sandbox.app.create_sandbox_app` puts it there)."""
    outbox: Outbox = request.app.state.shopify_outbox
    return outbox


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
