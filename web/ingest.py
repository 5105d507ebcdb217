"""`POST /api/v1/shops/{shop_id}/events`: signed order events in, documents out. The route of
the signed-API source (`tenants.sources.signed_api`): it checks the transport, hands the
request to the source, and answers what the source and ingest decided.

Checks run cheapest first and each has its own status: 415 (not JSON), 413 (too large), 401
(no signature, a stale timestamp, or no match), 400 (an unreadable signature header), 422
(every invalid field, or amounts or VAT that do not add up), 409 (an event id reused for
another body). An unknown shop and a wrong signature get the very same 401, so the API never
tells a caller whether a shop id exists. Errors are `application/problem+json` (RFC 9457).

A repeated event id gets the first answer byte for byte: answers are rendered with sorted keys
and stored with the delivery, so a repeat renders the same bytes from the stored JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

from arq.connections import ArqRedis
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.metrics import INGEST_REQUESTS
from gateway.orders import (
    MAX_PDF_BYTES,
    FieldError,
)
from tenants.orders import ingest as orders
from tenants.shops.ingest_secrets import SIGNATURE_HEADER
from tenants.sources import signed_api
from tenants.sources.delivery import Reason, Refused, ingest
from web import deps, openapi

# An order fits in 1 MiB; a shop's own invoice may come inline as `pdf_base64`, up to
# MAX_PDF_BYTES decoded (4/3 of that encoded), so the body may carry that much more.
MAX_BODY_BYTES: Final = 1024 * 1024 + (MAX_PDF_BYTES + 2) // 3 * 4
PROBLEM_JSON: Final = "application/problem+json"
# Problem types that carry more than their status; the OpenAPI document describes them.
INVALID_EVENT: Final = "/api/problems/invalid-event"
INCONSISTENT_ORDER: Final = "/api/problems/inconsistent-order"
VAT_MISMATCH: Final = "/api/problems/vat-mismatch"
EVENT_ID_REUSED: Final = "/api/problems/event-id-reused"


class Problem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type_: str = "about:blank",
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.body: dict[str, Any] = {
            "type": type_,
            "title": title,
            "status": status,
            "detail": detail,
        }
        if errors is not None:
            self.body["errors"] = [{"pointer": e.pointer, "detail": e.message} for e in errors]
        self.status = status
        self.headers = headers

    def response(self) -> Response:
        return Response(
            _render(self.body), self.status, headers=self.headers, media_type=PROBLEM_JSON
        )


# How each refusal is answered: status, title, problem type.
_ANSWERS: Final[dict[Reason, tuple[int, str, str]]] = {
    "unauthenticated": (401, "Unauthorized", "about:blank"),
    "malformed_proof": (400, "Bad Request", "about:blank"),
    "invalid": (422, "The event is invalid", INVALID_EVENT),
    "inconsistent": (422, "The amounts do not add up", INCONSISTENT_ORDER),
    "vat_mismatch": (422, "The VAT rates do not fit the customer", VAT_MISMATCH),
    "event_id_reused": (409, "Event id already used", EVENT_ID_REUSED),
}


def _problem(refused: Refused) -> Problem:
    status, title, type_ = _ANSWERS[refused.reason]
    return Problem(
        status,
        title,
        refused.detail,
        type_=type_,
        errors=list(refused.errors) or None,
        headers={"WWW-Authenticate": SIGNATURE_HEADER} if status == 401 else None,
    )


def _render(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


async def receive_event(request: Request) -> Response:
    return await counted(request, "api", _answer)


async def counted(
    request: Request, source: str, answer: Callable[[Request], Awaitable[Response]]
) -> Response:
    """`answer(request)`, counted in `gateway_ingest_requests_total` by source and status."""
    metrics = deps.metrics(request)
    try:
        response = await answer(request)
    except Exception:
        await metrics.inc(INGEST_REQUESTS, source=source, status="500")  # the error page's
        raise
    await metrics.inc(INGEST_REQUESTS, source=source, status=str(response.status_code))
    return response


async def _answer(request: Request) -> Response:
    try:
        return await _receive(request)
    except Problem as problem:
        return problem.response()


async def _receive(request: Request) -> Response:
    _require_json(request)
    body = await _read_body(request)
    shops = deps.ingest_shops(request)
    try:
        try:
            recorded = await _record(request, body)
        except orders.ShopChanged as changed:
            # Rolled or reconfigured since this process cached it: verify again, fresh.
            shops.drop(changed.args[0])
            recorded = await _record(request, body)
    except Refused as refused:
        raise _problem(refused) from None
    return Response(_render(recorded.receipt), 202, media_type="application/json")


async def _record(request: Request, body: bytes) -> orders.Recorded:
    """Verifies and records the event: in this process's next batch when it can be, else
    in a transaction of its own. Either way committed, and its documents enqueued, on return.
    """
    pool = deps.pool(request)
    delivery = await signed_api.receive(
        pool,
        deps.vault(request),
        shop_id=request.path_params["shop_id"],
        signature=request.headers.get(SIGNATURE_HEADER),
        body=body,
        now=dt.datetime.now(dt.UTC),
        production=deps.settings(request).is_production,
        shops=deps.ingest_shops(request),
    )
    batched = await deps.ingest_batcher(request).record(
        delivery.shop, delivery.event, delivery.fingerprint
    )
    if isinstance(batched, orders.Recorded):
        return batched
    async with batched, pool.acquire() as conn:
        recorded = await ingest(conn, delivery)
    # Committed: now wake the workers. Before answering, not in a background task: under
    # overload that keeps the server from taking on more than it finishes.
    redis: ArqRedis = request.state.redis
    await orders.enqueue_new_documents(redis, recorded.enqueue)
    return recorded


def _require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise Problem(415, "Unsupported Media Type", "Send the event as application/json.")


async def _read_body(request: Request) -> bytes:
    body = await deps.body_within(request, MAX_BODY_BYTES)
    if body is None:
        raise Problem(413, "Content Too Large", f"An event may be at most {MAX_BODY_BYTES} bytes.")
    return body


async def openapi_document(request: Request) -> Response:
    return JSONResponse(openapi.DOCUMENT)


routes = [
    Route("/api/v1/shops/{shop_id}/events", receive_event, methods=["POST"]),
    Route("/api/openapi.json", openapi_document, methods=["GET"]),
]
