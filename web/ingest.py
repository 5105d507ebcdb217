"""`POST /api/v1/shops/{shop_id}/events`: signed order events in, documents out.

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
import hashlib
import json
import logging
from typing import Any, Final
from uuid import UUID

from arq.connections import ArqRedis
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.accounting import vat_errors
from gateway.db import Connection
from gateway.orders import (
    MAX_PDF_BYTES,
    Event,
    FieldError,
    InconsistentOrder,
    InvalidEvent,
    parse_event,
)
from tenants.orders import ingest as orders
from tenants.shops import ingest_secrets
from tenants.shops.ingest_secrets import SIGNATURE_HEADER, TOLERANCE_SECONDS
from web import deps, openapi

log = logging.getLogger(__name__)

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


def _unauthenticated(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": SIGNATURE_HEADER})


# Says nothing about which of shop id, secret or signature is wrong: that would tell a caller
# which shop ids exist.
_NOT_AUTHENTIC: Final = (
    "The request could not be authenticated: check the shop id, the ingest secret and how "
    "the Gateway-Signature is computed."
)


def _render(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


async def receive_event(request: Request) -> Response:
    try:
        return await _receive(request)
    except Problem as problem:
        return problem.response()


async def _receive(request: Request) -> Response:
    _require_json(request)
    body = await _read_body(request)
    header = _signature_header(request)
    now = dt.datetime.now(dt.UTC)
    if not ingest_secrets.is_fresh(header, now):
        raise _unauthenticated(
            f"The signature's timestamp is more than {TOLERANCE_SECONDS} seconds away from "
            "the server's clock: sign each request when sending it."
        )
    # One connection for the shop lookup and the transaction: each checkout from the pool
    # costs a reset round trip when it is returned.
    async with deps.pool(request).acquire() as conn:
        shop = await _shop(conn, request, now)
        # Verified even for an unknown shop (against a throwaway key), so both take as long.
        authentic = ingest_secrets.matches(header, body, shop.secrets if shop else ())
        if shop is None or not authentic:
            # For the operator: the caller learns nothing from it.
            log.info(
                "ingest refused: %s for shop %r",
                "unknown shop" if shop is None else "no signature matches",
                request.path_params["shop_id"][:64],
            )
            raise _unauthenticated(_NOT_AUTHENTIC)
        event = _valid_event(body, production=deps.settings(request).is_production)
        try:
            recorded = await orders.record_event(
                conn, shop, event, body_sha256=hashlib.sha256(body).digest()
            )
        except orders.EventIdReused:
            raise Problem(
                409,
                "Event id already used",
                f"Event {event.id!r} was received before with a different body; an event id "
                "names one event and its body for ever.",
                type_=EVENT_ID_REUSED,
            ) from None
        except InvalidEvent as exc:
            raise _invalid(exc.errors) from None
    # Committed: now wake the workers. Before answering, not in a background task: under
    # overload that keeps the server from taking on more than it finishes.
    redis: ArqRedis = request.state.redis
    await orders.enqueue_new_documents(redis, recorded.enqueue)
    return Response(_render(recorded.receipt), 202, media_type="application/json")


def _valid_event(body: bytes, *, production: bool) -> Event:
    try:
        event = parse_event(body)
    except InconsistentOrder as exc:
        raise Problem(
            422,
            "The amounts do not add up",
            str(exc),
            type_=INCONSISTENT_ORDER,
            errors=exc.errors,
        ) from None
    except InvalidEvent as exc:
        raise _invalid(exc.errors) from None
    # Outside production a shop on this machine may serve its PDF over http; in production
    # the worker would refuse it anyway (`gateway.pdf`): say so now.
    pdf_url = event.order.invoice.pdf_url if event.order.invoice else None
    if production and pdf_url is not None and not pdf_url.startswith("https://"):
        raise _invalid([FieldError("/order/invoice/pdf_url", "must be an https:// URL")])
    mismatches = vat_errors(event.order, event.refund)
    if mismatches:
        raise Problem(
            422,
            "The VAT rates do not fit the customer",
            "; ".join(f"{e.pointer}: {e.message}" for e in mismatches),
            type_=VAT_MISMATCH,
            errors=mismatches,
        )
    return event


def _invalid(errors: list[FieldError]) -> Problem:
    count = len(errors)
    return Problem(
        422,
        "The event is invalid",
        f"{count} field{'s are' if count != 1 else ' is'} invalid; see errors.",
        type_=INVALID_EVENT,
        errors=errors,
    )


def _require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise Problem(415, "Unsupported Media Type", "Send the event as application/json.")


async def _read_body(request: Request) -> bytes:
    too_large = Problem(
        413, "Content Too Large", f"An event may be at most {MAX_BODY_BYTES} bytes."
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _signature_header(request: Request) -> ingest_secrets.SignatureHeader:
    value = request.headers.get(SIGNATURE_HEADER)
    if value is None:
        raise _unauthenticated(f"The {SIGNATURE_HEADER} header is missing.")
    try:
        return ingest_secrets.parse_signature_header(value)
    except ingest_secrets.MalformedSignature as exc:
        raise Problem(
            400,
            "Bad Request",
            f"The {SIGNATURE_HEADER} header is malformed: {exc}. Expected "
            "t=<unix seconds>,v1=<hex HMAC-SHA256>.",
        ) from None


async def _shop(conn: Connection, request: Request, now: dt.datetime) -> orders.IngestShop | None:
    try:
        shop_id = UUID(request.path_params["shop_id"])
    except ValueError:
        return None  # not a shop: the same 401 as any unknown shop
    return await orders.shop_for_ingest(conn, deps.vault(request), shop_id, now)


async def openapi_document(request: Request) -> Response:
    return JSONResponse(openapi.DOCUMENT)


routes = [
    Route("/api/v1/shops/{shop_id}/events", receive_event, methods=["POST"]),
    Route("/api/openapi.json", openapi_document, methods=["GET"]),
]
