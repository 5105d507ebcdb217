"""A session counts every call it makes by outcome, the 401 before a refresh included."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from arq.connections import ArqRedis

from gateway.db import Pool
from gateway.dinero.errors import DineroError
from gateway.dinero.oauth import VismaConnect
from gateway.metrics import DINERO_CALLS, Metrics
from gateway.ratelimit import RateBudget
from gateway.settings import SANDBOX_CLIENT_ID
from gateway.vault import Vault
from sandbox.state import Faults
from tenants.dinero.session import DineroSession
from tests.gateway.test_metrics import scrape
from tests.live import LiveSandbox
from tests.tenants.dinero.connections.test_connections import connect


@pytest.fixture
def faultless(sandbox_server: LiveSandbox) -> Iterator[None]:
    yield
    sandbox_server.sandbox.faults = Faults()


async def test_every_call_is_counted_by_outcome(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    redis: ArqRedis,
    sandbox_server: LiveSandbox,
    faultless: None,
) -> None:
    _, connection_id = await connect(pool, vault, sandbox_server, visma)
    metrics = Metrics(redis)

    def session(api_url: str = sandbox_server.url) -> DineroSession:
        return DineroSession(
            pool=pool,
            vault=vault,
            visma=visma,
            http=http,
            api_url=api_url,
            budget=RateBudget(redis),
            client_id=SANDBOX_CLIENT_ID,
            connection_id=connection_id,
            organization_id=1001,
            now=sandbox_server.sandbox.now(),
            metrics=metrics,
        )

    await session().call(lambda c: c.vat_types(1001))  # ok
    sandbox_server.sandbox.expire_access_tokens()  # before the row says so
    await session().call(lambda c: c.vat_types(1001))  # 401, refreshed, ok
    for faults in (Faults(rate_limit_429_rate=1.0), Faults(error_rate=1.0)):
        sandbox_server.sandbox.faults = faults
        with pytest.raises(DineroError):
            await session().call(lambda c: c.vat_types(1001))
    with pytest.raises(DineroError):  # nothing listens there: no answer
        await session("http://127.0.0.1:1").call(lambda c: c.vat_types(1001))

    seen = await scrape(metrics)
    by_outcome = {
        o: seen[("gateway_dinero_calls_total", (("outcome", o),))]
        for o in DINERO_CALLS.labels["outcome"]
    }
    assert by_outcome == {"ok": 2, "4xx": 1, "429": 1, "5xx": 1, "uncertain": 1}
