"""The worker's backends by name: a document goes to the backend its row names, and a name
the worker has no backend for fails the document, saying so, instead of holding its lease."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.db import Pool
from gateway.dinero.oauth import VismaConnect
from gateway.vault import Vault
from tenants.dinero.poster import Poster
from tenants.posting.outcomes import Outcome
from tenants.posting.registry import Backends
from tenants.posting.service import post_document
from tests.live import LiveSandbox
from tests.tenants.dinero.connections.test_connections import connect
from tests.tenants.outbox.test_outbox import row
from tests.tenants.posting.test_posting import invoice_for_order


def registry(poster: Poster) -> Backends:
    return Backends(
        named={"dinero": poster},
        pool=poster.pool,
        worker_id=poster.worker_id,
        lease_for=poster.lease_for,
        backoff_base=poster.backoff_base,
    )


async def test_a_dinero_document_is_posted_through_the_registry(
    pool: Pool, vault: Vault, visma: VismaConnect, sandbox_server: LiveSandbox, poster: Poster
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    document_id = await invoice_for_order(pool, shop.id)

    result = await post_document(registry(poster), document_id, now=datetime.now(UTC))

    assert result.outcome is Outcome.POSTED
    after = await row(pool, document_id)
    assert (after["backend"], after["state"], after["backend_number"]) == ("dinero", "posted", 1)


async def test_a_backend_the_worker_lacks_fails_the_document_saying_so(
    pool: Pool, vault: Vault, visma: VismaConnect, sandbox_server: LiveSandbox, poster: Poster
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    document_id = await invoice_for_order(pool, shop.id)
    await pool.execute("UPDATE documents SET backend = 'economic' WHERE id = $1", document_id)

    result = await post_document(registry(poster), document_id, now=datetime.now(UTC))

    assert result.outcome is Outcome.FAILED
    after = await row(pool, document_id)
    assert (after["state"], after["last_error_code"]) == ("failed", "no_backend")
    assert after["last_error"] == "No accounting system named 'economic' is configured"
    assert after["lease_owner"] is None and after["backend_id"] is None


async def test_the_sweeper_asks_each_backend_for_its_budget(poster: Poster) -> None:
    backends = registry(poster)

    assert await backends.room("economic", 1001, within=3) == 0
    assert await backends.room("dinero", 1001, within=3) > 0
