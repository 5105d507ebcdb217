"""The ingest API against its own OpenAPI document, from the outside: schemathesis reads
`/api/openapi.json`'s description of `POST /api/v1/shops/{shop_id}/events` and generates
requests that fit it (positive) and requests that break it (negative: wrong types, missing
fields, out-of-range values). Each is sent to the gateway, in-process with its lifespan, for
a real shop and signed as that shop would sign the exact bytes, so the body reaches the
parser and the ingest transaction instead of stopping at the signature. Every answer must be
what the document promises: no 5xx, a status code the document lists, its content type, its
schema and its headers. Then the document itself is checked against the live route.

The budget is bounded (`EXAMPLES` requests, derandomised), so `make test` stays quick and
deterministic; `GATEWAY_SCHEMA_FUZZ_EXAMPLES=<n>` runs a longer search by hand."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.db import Pool
from gateway.secret import Secret
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.shops import repository as shops
from tenants.shops.ingest_secrets import SIGNATURE_HEADER, sign
from tests.conftest import _WithState
from tests.factories import make_shop
from web import openapi
from web.app import create_app

EXAMPLES = int(os.environ.get("GATEWAY_SCHEMA_FUZZ_EXAMPLES", "150"))
EVENTS = "/api/v1/shops/{shop_id}/events"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

operation = schemathesis.openapi.from_dict(openapi.DOCUMENT)[EVENTS]["POST"]
cases = st.one_of(
    operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
)


@pytest.fixture
async def shop(pool: Pool, vault: Vault) -> tuple[shops.Shop, Secret]:
    created, secret, _ = await make_shop(pool, vault)
    return created, secret


def test_every_answer_is_what_the_openapi_document_promises(
    settings: Settings, shop: tuple[shops.Shop, Secret]
) -> None:
    shop_id, secret = shop[0].id, shop[1]
    statuses: Counter[int] = Counter()
    loop = asyncio.new_event_loop()
    app = create_app(settings)
    lifespan = app.router.lifespan_context(app)
    state = loop.run_until_complete(lifespan.__aenter__())
    transport = httpx.ASGITransport(app=_WithState(app, dict(state or {})))
    client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    try:

        @settings_for_schema_fuzz
        @given(case=cases)
        def check(case: Case[Any]) -> None:
            raw = _raw(case.body)
            headers: dict[str, str] = {
                str(k): str(v) for k, v in (case.headers or {}).items() if k != SIGNATURE_HEADER
            }
            headers.setdefault("Content-Type", case.media_type or "application/json")
            headers[SIGNATURE_HEADER] = sign(secret, int(time.time()), raw)
            answer = loop.run_until_complete(
                client.post(EVENTS.format(shop_id=shop_id), content=raw, headers=headers)
            )
            statuses[answer.status_code] += 1
            case.validate_response(answer, checks=CHECKS, headers=headers)

        check()
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(lifespan.__aexit__(None, None, None))
        loop.close()
    # The search reached the ingest transaction and its refusals, not only the doorway.
    assert statuses[202] and statuses[422], statuses
    assert not any(status >= 500 for status in statuses), statuses


def _raw(body: Any) -> bytes:
    """The exact bytes sent (and signed): the generated body as JSON; a negative case may
    generate what JSON cannot carry (NaN), which goes out as Python's json writes it."""
    if isinstance(body, bytes):
        return body
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")


settings_for_schema_fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
