"""Property: whatever a shop's platform signs and sends, the ingest API answers 202 or a 4xx
problem+json, never a 5xx, and a refused event leaves nothing stored.

Hypothesis mutates DESIGN.md's example event: any field replaced by a hostile value (NUL
characters, lone surrogates, deep nesting, absurd numbers, huge arrays and strings, wrong
types), removed, or joined by an unknown one; each body is signed as the shop would sign it
and posted to the gateway, in-process with its lifespan, on an event loop of the test's own
that each example runs to completion: hypothesis drives it synchronously."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
from collections import Counter
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.db import Pool
from gateway.secret import Secret
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.shops import repository as shops
from tenants.shops.ingest_secrets import sign
from tests.conftest import _WithState
from tests.factories import make_shop
from web import openapi
from web.app import create_app

EVENTS = "/api/v1/shops/{}/events"
REFUSALS = frozenset({400, 401, 409, 413, 415, 422})
DEEP = re.compile(r'"__deep_([0-9]+)__"')


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in the event a value sits (the root excluded)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


EXAMPLE: dict[str, Any] = openapi.EXAMPLE_EVENT
PATHS = paths(EXAMPLE)

hostile_text = st.one_of(
    st.text(max_size=40),
    st.just("\x00"),
    st.just("a\x00b"),
    st.just("\ud800"),
    st.just("x" * 100_000),
    st.just("9" * 400),
    st.just("1e999"),
    st.just("NaN"),
    st.just("-0.000000001"),
)
hostile = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=False, allow_infinity=False),
        hostile_text,
        st.just([0] * 20_000),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=10,
)
# Nesting deeper than Python's own json module could build is spliced into the raw body.
deep = st.integers(min_value=50, max_value=5000).map(lambda n: f"__deep_{n}__")


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    body = copy.deepcopy(EXAMPLE)
    body["id"] = f"evt_fuzz_{draw(st.integers(min_value=0, max_value=10**12))}"
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = body
        try:
            for step in path[:-1]:
                parent = parent[step]
            how = draw(st.sampled_from(["replace", "replace", "deep", "remove", "add"]))
            if how == "remove" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif how == "add" and isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=8))] = draw(hostile)
            else:
                parent[path[-1]] = draw(deep if how == "deep" else hostile)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this place
    raw = DEEP.sub(lambda m: "[" * int(m[1]) + "]" * int(m[1]), json.dumps(body))
    return raw.encode()


@pytest.fixture
async def shop(pool: Pool, vault: Vault) -> tuple[shops.Shop, Secret]:
    created, secret, _ = await make_shop(pool, vault)
    return created, secret


async def stored_event_ids(database_url: str) -> set[str]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT event_id FROM deliveries")
    finally:
        await connection.close()
    return {row["event_id"] for row in rows}


def test_a_signed_mutated_event_is_202_or_a_4xx_never_a_5xx(
    settings: Settings, shop: tuple[shops.Shop, Secret]
) -> None:
    shop_id, secret = shop[0].id, shop[1]
    accepted: set[str] = set()
    statuses: Counter[int] = Counter()
    loop = asyncio.new_event_loop()
    app = create_app(settings)
    lifespan = app.router.lifespan_context(app)
    state = loop.run_until_complete(lifespan.__aenter__())
    transport = httpx.ASGITransport(app=_WithState(app, dict(state or {})))
    client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    try:

        @settings_for_fuzz
        @given(raw=mutated())
        def check(raw: bytes) -> None:
            signed = sign(secret, int(time.time()), raw)
            answer = loop.run_until_complete(
                client.post(
                    EVENTS.format(shop_id),
                    content=raw,
                    headers={"Content-Type": "application/json", "Gateway-Signature": signed},
                )
            )
            assert answer.status_code == 202 or answer.status_code in REFUSALS, (
                answer.status_code,
                answer.text[:500],
            )
            statuses[answer.status_code] += 1
            if answer.status_code == 202:
                accepted.add(answer.json()["event_id"])
            else:
                assert answer.headers["content-type"] == "application/problem+json"

        check()
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(lifespan.__aexit__(None, None, None))
        loop.close()
    # Both ways were walked: some mutations are harmless (an unknown field), most refused.
    assert statuses[202] and statuses[422], statuses
    # A refused event left nothing behind: only the accepted ones were recorded.
    assert asyncio.run(stored_event_ids(settings.database_url)) == accepted


settings_for_fuzz = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
