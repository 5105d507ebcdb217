"""`GET /metrics`: Prometheus' text format, for the operator's Prometheus only.

It sits on the main app behind a bearer token (`GATEWAY_METRICS_TOKEN`), not on a port of
its own: the web process is what runs behind the TLS proxy already, `gateway web --workers N`
and several containers share one port, and a second listener would be one more thing to bind
right and firewall. The token is compared in constant time; without one configured (only
possible outside production) the route answers 404, as if it were not there.

Every web process answers the same: events are counted in Redis (`gateway.metrics`; each web
process adds its own counts about once a second, and at once before it answers a scrape) and
the state of things is read from Postgres at scrape time (`tenants.dashboard.gauges`).
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.metrics import CONTENT_TYPE, DOCUMENT_KINDS, exposition
from tenants.dashboard import gauges
from tenants.dashboard.gauges import CONNECTION_STATUSES, DOCUMENT_STATES, SOURCE_STATUSES
from web import deps


async def metrics(request: Request) -> Response:
    token = deps.settings(request).metrics_token
    if token is None:
        raise HTTPException(404)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.reveal().encode()
    ):
        return Response(
            "Unauthorized\n",
            401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            media_type="text/plain",
        )
    state = await gauges.read(deps.pool(request), now=datetime.now(UTC))
    families = [*await deps.metrics(request).families(), *_gauge_families(state)]
    return Response(
        exposition(families),
        headers={"Cache-Control": "no-store"},
        media_type=CONTENT_TYPE,
    )


def _gauge_families(state: gauges.Gauges) -> list[Metric]:
    documents = GaugeMetricFamily(
        "gateway_documents", "Documents by kind and state.", labels=["kind", "state"]
    )
    for kind in DOCUMENT_KINDS:
        for document_state in DOCUMENT_STATES:
            documents.add_metric(
                [kind, document_state], state.documents.get((kind, document_state), 0)
            )
    connections = GaugeMetricFamily(
        "gateway_dinero_connections", "Dinero connections by status.", labels=["status"]
    )
    for status in CONNECTION_STATUSES:
        connections.add_metric([status], state.connections.get(status, 0))
    sources = GaugeMetricFamily(
        "gateway_sources", "Order sources (Shopify stores) by status.", labels=["status"]
    )
    for status in SOURCE_STATUSES:
        sources.add_metric([status], state.sources.get(status, 0))
    return [
        documents,
        connections,
        sources,
        GaugeMetricFamily(
            "gateway_sweeper_lag_seconds",
            "How long the oldest due, queued document has been due (0: none is).",
            value=state.sweeper_lag,
        ),
        GaugeMetricFamily(
            "gateway_connection_needs_reconnect_seconds",
            "How long the longest-waiting connection in use has needed a reconnect (0: none).",
            value=state.needs_reconnect_for,
        ),
    ]


routes = [Route("/metrics", metrics, methods=["GET"])]
