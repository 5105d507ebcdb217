"""Webhook deliveries as WooCommerce makes them (`WC_Webhook::deliver`): a POST of the JSON
payload to the webhook's delivery URL with `X-WC-Webhook-Source`, `-Topic`, `-Resource`,
`-Event`, `-Signature` (base64 HMAC-SHA256 of the raw body, keyed with the webhook's secret),
`-ID` and `-Delivery-ID` (fresh on every send). One try, a 60 s timeout, no retry: a 2xx, 301
or 302 resets the webhook's failure count, anything else adds one, and more than five in a row
set the webhook to `disabled`, after which nothing is sent to it.

Deliveries go out one at a time, in the order they were made, from a background task (as
WooCommerce sends them from its action queue, after the change that caused them). The
creation ping (form body `webhook_id=N`) is sent at once, as WooCommerce does on activation.

Fault (`POST /_sandbox/woocommerce/faults`): `fail_deliveries` makes every delivery fail
without reaching the receiver, as if the gateway were down.
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
from dataclasses import dataclass
from typing import Any, Final

import httpx
from starlette.requests import Request

from sandbox.woocommerce.state import MAX_FAILURES, Store, Webhook, WooCommerceSandbox, gmt

log = logging.getLogger(__name__)

TIMEOUT: Final = httpx.Timeout(60.0)


@dataclass(frozen=True)
class _Job:
    store: str
    source: str
    webhook_id: int
    body: bytes


class Outbox:
    """Deliveries waiting to be sent, the task that sends them, and the log of every one."""

    def __init__(
        self, woocommerce: WooCommerceSandbox, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._woocommerce = woocommerce
        self._transport = transport
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self.log: list[dict[str, Any]] = []

    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(transport=self._transport, timeout=TIMEOUT)
        return self._http

    def forget(self) -> None:
        self.log.clear()
        if self._queue is not None:
            while not self._queue.empty():
                self._queue.get_nowait()

    def publish(self, store: Store, source: str, topic: str, payload: dict[str, Any]) -> int:
        """Queues `payload` for every active webhook on `topic`; answers how many."""
        raw = json.dumps(payload, separators=(",", ":")).encode()
        count = 0
        for webhook in store.webhooks.values():
            if webhook.topic == topic and webhook.status == "active":
                self._enqueue(_Job(store.name, source, webhook.id, raw))
                count += 1
        return count

    def _enqueue(self, job: _Job) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
        self._queue.put_nowait(job)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(
                self._run(), name="woocommerce-webhooks"
            )

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            job = await self._queue.get()
            try:
                await self._deliver(job)
            except Exception:  # one broken send must not stop the rest
                log.exception("woocommerce sandbox: delivery failed")
            finally:
                self._queue.task_done()

    async def _deliver(self, job: _Job) -> None:
        store = self._woocommerce.stores.get(job.store)
        webhook = store.webhooks.get(job.webhook_id) if store else None
        if webhook is None or webhook.status != "active":
            return
        resource, event = webhook.topic.split(".", 1)
        delivery_id = uuid.uuid4().hex
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)",
            "X-WC-Webhook-Source": job.source,
            "X-WC-Webhook-Topic": webhook.topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": signature(job.body, webhook.secret),
            "X-WC-Webhook-ID": str(webhook.id),
            "X-WC-Webhook-Delivery-ID": delivery_id,
        }
        status: int | None = None
        if not self._woocommerce.faults.fail_deliveries:
            try:
                response = await self.http().post(
                    webhook.delivery_url, content=job.body, headers=headers
                )
                status = response.status_code
            except httpx.HTTPError as exc:
                log.info(
                    "woocommerce sandbox: delivery to %s failed (%s)", webhook.delivery_url, exc
                )
        ok = status is not None and (200 <= status < 300 or status in (301, 302))
        if ok:
            webhook.failure_count = 0
        else:
            webhook.failure_count += 1
            if webhook.failure_count > MAX_FAILURES:
                webhook.status = "disabled"
                webhook.modified = self._woocommerce.now()
        self.log.append(
            {
                "store": job.store,
                "webhook_id": webhook.id,
                "topic": webhook.topic,
                "delivery_id": delivery_id,
                "status_code": status,
                "outcome": "delivered" if ok else "failed",
                "failure_count": webhook.failure_count,
                "webhook_status": webhook.status,
                "at": gmt(self._woocommerce.now()),
            }
        )

    async def ping(self, webhook: Webhook) -> int | None:
        """The creation ping: form body `webhook_id=N`; answers the status (None: no answer)."""
        if self._woocommerce.faults.fail_deliveries:
            return None
        try:
            response = await self.http().post(
                webhook.delivery_url,
                content=f"webhook_id={webhook.id}".encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        except httpx.HTTPError:
            return None
        return response.status_code

    async def drain(self) -> None:
        """Waits until everything queued has been sent (for tests and the control API)."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        self._queue = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def signature(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def outbox_of(request: Request) -> Outbox:
    outbox: Outbox = request.app.state.woocommerce_outbox
    return outbox
