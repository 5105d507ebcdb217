"""A shop's documents: the list (filter by state, search by order number, pages), one
document with its timeline, and Retry for a failed one.

Filters, search and pages are plain GET parameters, so without JavaScript a chip is a link
and the search a form; with htmx only `#documents` is swapped and the URL pushed, from the
same template. Pages are keyset pages: `before=<id>` (older) and `after=<id>` (newer).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from tenants.dashboard import document_contents
from tenants.dashboard import documents as shop_documents
from tenants.dashboard import shop as dashboard
from tenants.outbox import repository as outbox
from web import auth, deps, i18n
from web.shops import shop_for_request

LIST: Final = "documents"
CARD: Final = "document"
_MAX_SEARCH: Final = 200
# A bigint's digits: anything longer is not a document id (and must not reach Postgres).
_ID: Final = re.compile(r"^[0-9]{1,18}$")


def _state(request: Request) -> shop_documents.State | None:
    value = request.query_params.get("state")
    return next((s for s in shop_documents.STATES if s == value), None)


def _cursor(request: Request, name: str) -> int | None:
    value = request.query_params.get(name, "")
    return int(value) if _ID.match(value) else None


def _url(path: str, **params: object) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{path}?{query}" if query else path


def _document_id(request: Request) -> int:
    value = request.path_params["document_id"]
    if not _ID.match(value):
        raise HTTPException(404)
    return int(value)


# The list's narrowing, as query parameters (the export takes the same).
_TEXT_FILTERS: Final = ("q", "customer")
_DATE_FILTERS: Final = ("from", "to")
_AMOUNT_FILTERS: Final = ("min", "max")
_AMOUNT: Final = re.compile(r"^-?[0-9]{1,12}([.,][0-9]{1,2})?$")


def _filters(request: Request) -> dict[str, str]:
    """The narrowing as given, each value cut to size; what does not read is dropped (and
    the form shows it empty), never a 500."""
    given = request.query_params
    kept = {name: given.get(name, "").strip()[:_MAX_SEARCH] for name in _TEXT_FILTERS}
    for name in _DATE_FILTERS:
        value = given.get(name, "").strip()
        kept[name] = value if _date(value) is not None else ""
    for name in _AMOUNT_FILTERS:
        value = given.get(name, "").strip()
        kept[name] = value if _AMOUNT.match(value) else ""
    return {k: v for k, v in kept.items() if v}


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _narrowing(filters: dict[str, str], zone: dt.tzinfo) -> shop_documents.Narrowing:
    """Dates are days in the shop's time zone: `to` includes its whole day."""
    start, end = _date(filters.get("from", "")), _date(filters.get("to", ""))
    return shop_documents.Narrowing(
        search=filters.get("q", ""),
        customer=filters.get("customer", ""),
        created_from=_midnight(start, zone) if start else None,
        created_before=_midnight(end + dt.timedelta(days=1), zone) if end else None,
        min_amount=_amount(filters.get("min")),
        max_amount=_amount(filters.get("max")),
    )


def _midnight(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


def _amount(value: str | None) -> Decimal | None:
    return Decimal(value.replace(",", ".")) if value else None


@auth.permission("view")
async def document_list(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    pool = deps.pool(request)
    state = _state(request)
    filters = _filters(request)
    page = await shop_documents.documents_page(
        pool,
        shop.id,
        state=state,
        narrowing=_narrowing(filters, i18n.zone_of(request)),
        before=_cursor(request, "before"),
        after=_cursor(request, "after"),
    )
    path = f"/shops/{shop.id}/documents"
    context: dict[str, Any] = {
        "shop": shop,
        "tab": "documents",
        "page": page,
        "state": state,
        "states": shop_documents.STATES,
        "search": filters.get("q", ""),
        "filters": filters,
        "counts": await shop_documents.state_counts(pool, shop.id),
        "cap": dashboard.COUNT_CAP,
        "path": path,
        "export_url": _url(f"{path}.csv", state=state, **filters),
        "filter_url": lambda s: _url(path, state=s, **filters),
        "page_url": lambda **cursor: _url(path, state=state, **filters, **cursor),
    }
    return deps.render_page_or_partial(
        request, "documents/list.html", "documents/_list.html", context, target=LIST
    )


EXPORT_BATCH: Final = 500
_CSV_COLUMNS: Final = (
    "created_at",
    "order_number",
    "order_id",
    "document_id",
    "kind",
    "state",
    "mode",
    "amount",
    "currency",
    "backend_number",
    "payment_status",
    "last_problem",
)
# A cell a spreadsheet would run as a formula is written as text.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


@auth.permission("view")
async def document_export(request: Request) -> Response:
    """The filtered list, every page of it, as CSV: streamed in keyset batches, so a shop
    with a million documents downloads without the process holding them."""
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    pool = deps.pool(request)
    state, narrowing = _state(request), _narrowing(_filters(request), i18n.zone_of(request))

    async def lines() -> AsyncIterator[str]:
        yield _csv_line(_CSV_COLUMNS)
        before: int | None = None
        while True:
            page = await shop_documents.documents_page(
                pool, shop.id, state=state, narrowing=narrowing, before=before, size=EXPORT_BATCH
            )
            for d in page.items:
                yield _csv_line(
                    (
                        d.created_at.astimezone(dt.UTC).isoformat(),
                        d.order_number,
                        d.order_external_id,
                        str(d.id),
                        d.kind,
                        d.state,
                        d.mode,
                        str(d.amount),
                        d.currency,
                        "" if d.backend_number is None else str(d.backend_number),
                        d.payment_status or "",
                        d.last_error or "",
                    )
                )
            if page.older is None:
                return
            before = page.older

    day = auth.now().astimezone(i18n.zone_of(request)).date().isoformat()
    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="documents-{day}.csv"'},
    )


def _csv_line(cells: Sequence[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(
        ["'" + cell if cell.startswith(_FORMULA_START) else cell for cell in cells]
    )
    return out.getvalue()


@auth.permission("view")
async def document_page(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    document_id = _document_id(request)
    document = await shop_documents.document_detail(deps.pool(request), shop.id, document_id)
    if document is None:
        raise HTTPException(404)
    pool = deps.pool(request)
    context = {
        "shop": shop,
        "tab": "documents",
        "document": document,
        "origin": await document_contents.origin(pool, shop.id, document.order_external_id),
        "contents": await document_contents.contents(pool, shop.id, document_id, now=auth.now()),
    }
    return deps.render_page_or_partial(
        request, "documents/show.html", "documents/_document.html", context, target=CARD
    )


@auth.permission("retry")
async def retry(request: Request) -> Response:
    """Queues a failed document again and wakes a worker for it (after the commit). A
    document that is not failed (a second click, or someone else retried it first) is left
    alone: the page it comes back to shows where it is."""
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    document_id = _document_id(request)
    await auth.checked_form(request, session)
    pool = deps.pool(request)
    ready = await outbox.retry(pool, shop.id, document_id, now=auth.now())
    if ready is not None:
        await outbox.enqueue(deps.redis(request), [ready])
    elif not await shop_documents.document_exists(pool, shop.id, document_id):
        raise HTTPException(404)
    return RedirectResponse(f"/shops/{shop.id}/documents/{document_id}", 303)


routes = [
    Route("/shops/{shop_id}/documents", document_list, methods=["GET"]),
    Route("/shops/{shop_id}/documents.csv", document_export, methods=["GET"]),
    Route("/shops/{shop_id}/documents/{document_id}", document_page, methods=["GET"]),
    Route("/shops/{shop_id}/documents/{document_id}/retry", retry, methods=["POST"]),
]
