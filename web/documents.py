"""A shop's documents: the list (filter by state, search by order number, pages), one
document with its timeline, and Retry for a failed one.

Filters, search and pages are plain GET parameters, so without JavaScript a chip is a link
and the search a form; with htmx only `#documents` is swapped and the URL pushed, from the
same template. Pages are keyset pages: `before=<id>` (older) and `after=<id>` (newer).
"""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tenants.dashboard import document_contents
from tenants.dashboard import documents as shop_documents
from tenants.dashboard import shop as dashboard
from tenants.outbox import repository as outbox
from web import auth, deps
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


async def document_list(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    pool = deps.pool(request)
    state = _state(request)
    search = request.query_params.get("q", "").strip()[:_MAX_SEARCH]
    page = await shop_documents.documents_page(
        pool,
        shop.id,
        state=state,
        search=search,
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
        "search": search,
        "counts": await shop_documents.state_counts(pool, shop.id),
        "cap": dashboard.COUNT_CAP,
        "path": path,
        "filter_url": lambda s: _url(path, state=s, q=search),
        "page_url": lambda **cursor: _url(path, state=state, q=search, **cursor),
    }
    return deps.render_page_or_partial(
        request, "documents/list.html", "documents/_list.html", context, target=LIST
    )


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
    Route("/shops/{shop_id}/documents/{document_id}", document_page, methods=["GET"]),
    Route("/shops/{shop_id}/documents/{document_id}/retry", retry, methods=["POST"]),
]
