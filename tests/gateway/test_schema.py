"""The constraints that keep the data honest, exercised directly in SQL."""

import uuid

import asyncpg
import pytest

from gateway.db import Pool
from gateway.vault import Vault
from tests.factories import make_shop


async def _order(pool: Pool, shop_id: uuid.UUID, external_id: str = "1001") -> int:
    order_id: int = await pool.fetchval(
        """
        INSERT INTO orders (shop_id, external_id, number, currency, total, payload, ordered_at,
                            last_event_at)
        VALUES ($1, $2, $2, 'DKK', 128.99, '{}', now(), now()) RETURNING id
        """,
        shop_id,
        external_id,
    )
    return order_id


async def _document(pool: Pool, shop_id: uuid.UUID, order_id: int, **overrides: object) -> int:
    values: dict[str, object] = {
        "kind": "invoice",
        "seq": 0,
        "currency": "DKK",
        "amount": 128.99,
        "client_guid": uuid.uuid4(),
        "external_reference": "ref",
        **overrides,
    }
    columns = ", ".join(["shop_id", "order_id", *values])
    params = ", ".join(f"${i}" for i in range(1, len(values) + 3))
    doc_id: int = await pool.fetchval(
        f"INSERT INTO documents ({columns}) VALUES ({params}) RETURNING id",
        shop_id,
        order_id,
        *values.values(),
    )
    return doc_id


async def test_order_external_id_is_unique_per_shop(pool: Pool, vault: Vault) -> None:
    a, _, _ = await make_shop(pool, vault)
    b, _, _ = await make_shop(pool, vault)
    await _order(pool, a.id)
    await _order(pool, b.id)  # another tenant may use the same id
    with pytest.raises(asyncpg.UniqueViolationError, match="orders_shop_external_key"):
        await _order(pool, a.id)


async def test_document_cannot_point_at_another_shops_order(pool: Pool, vault: Vault) -> None:
    a, _, _ = await make_shop(pool, vault)
    b, _, _ = await make_shop(pool, vault)
    order_of_a = await _order(pool, a.id)
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="documents_order_fkey"):
        await _document(pool, b.id, order_of_a)


async def test_a_document_takes_its_shops_backend(pool: Pool, vault: Vault) -> None:
    shop, _, _ = await make_shop(pool, vault)
    await pool.execute("UPDATE shops SET backend = 'economic' WHERE id = $1", shop.id)
    document_id = await _document(pool, shop.id, await _order(pool, shop.id), backend="dinero")
    backend = await pool.fetchval("SELECT backend FROM documents WHERE id = $1", document_id)
    assert backend == "economic"  # the shop's choice, whatever the statement said
    with pytest.raises(asyncpg.ForeignKeyViolationError):  # not a NOT NULL on backend
        await _document(pool, uuid.uuid4(), 1)


async def test_parent_document_belongs_to_the_same_shop(pool: Pool, vault: Vault) -> None:
    a, _, _ = await make_shop(pool, vault)
    b, _, _ = await make_shop(pool, vault)
    invoice_of_a = await _document(pool, a.id, await _order(pool, a.id))
    order_of_b = await _order(pool, b.id)
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="documents_parent_fkey"):
        await _document(pool, b.id, order_of_b, kind="credit_note", seq=1, parent_id=invoice_of_a)


async def test_document_event_belongs_to_the_documents_shop(pool: Pool, vault: Vault) -> None:
    a, _, _ = await make_shop(pool, vault)
    b, _, _ = await make_shop(pool, vault)
    invoice_of_a = await _document(pool, a.id, await _order(pool, a.id))
    insert = (
        "INSERT INTO events (shop_id, document_id, kind, message) "
        "VALUES ($1, $2, 'document.posted', 'x')"
    )
    await pool.execute(insert, a.id, invoice_of_a)
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="events_document_fkey"):
        await pool.execute(insert, b.id, invoice_of_a)


async def test_refund_ids_are_unique_per_order(pool: Pool, vault: Vault) -> None:
    shop, _, _ = await make_shop(pool, vault)
    order_id = await _order(pool, shop.id)
    insert = (
        "INSERT INTO refunds (shop_id, order_id, refund_id, total, payload, occurred_at) "
        "VALUES ($1, $2, 'r1', 10, '{}', now())"
    )
    await pool.execute(insert, shop.id, order_id)
    with pytest.raises(asyncpg.UniqueViolationError, match="refunds_order_refund_key"):
        await pool.execute(insert, shop.id, order_id)


async def test_one_document_per_kind_and_seq(pool: Pool, vault: Vault) -> None:
    shop, _, _ = await make_shop(pool, vault)
    order_id = await _order(pool, shop.id)
    invoice = await _document(pool, shop.id, order_id)
    with pytest.raises(asyncpg.UniqueViolationError, match="documents_shop_order_kind_seq_key"):
        await _document(pool, shop.id, order_id)
    await _document(pool, shop.id, order_id, kind="credit_note", seq=1, parent_id=invoice)
    await _document(pool, shop.id, order_id, kind="payment", seq=1, parent_id=invoice)
    await _document(pool, shop.id, order_id, kind="voucher", seq=0)


@pytest.mark.parametrize(
    "overrides",
    [
        {"kind": "receipt"},
        {"state": "done"},
        {"step": "teleported"},
        {"mode": "final"},
        {"currency": "dkk"},
        {"seq": -1},
        {"kind": "credit_note"},  # a credit note needs the invoice it credits
        {"kind": "payment"},  # a payment needs the document it settles
        {"state": "posted"},  # posted needs posted_at
        {"lease_owner": "w1"},  # a lease needs its expiry
        {"external_reference": "x" * 129},
    ],
)
async def test_document_checks(pool: Pool, vault: Vault, overrides: dict[str, object]) -> None:
    shop, _, _ = await make_shop(pool, vault)
    order_id = await _order(pool, shop.id)
    with pytest.raises(asyncpg.CheckViolationError):
        await _document(pool, shop.id, order_id, **overrides)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("trigger", "sometime"),
        ("mode", "final"),
        ("document_kind", "receipt"),
        ("slug", "Not A Slug"),
    ],
)
async def test_shop_setting_checks(pool: Pool, vault: Vault, column: str, value: str) -> None:
    shop, _, _ = await make_shop(pool, vault)
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(f"UPDATE shops SET {column} = $1 WHERE id = $2", value, shop.id)


async def test_connection_token_set_is_whole_or_absent(pool: Pool) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "INSERT INTO dinero_connections (organization_id, access_token_enc, status) "
            "VALUES (1, 'v1:x:y', 'active')"
        )
    with pytest.raises(asyncpg.CheckViolationError):
        # active without tokens
        await pool.execute("INSERT INTO dinero_connections (organization_id) VALUES (2)")
    await pool.execute(
        "INSERT INTO dinero_connections (organization_id, status) VALUES (3, 'needs_reconnect')"
    )
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute(
            "INSERT INTO dinero_connections (organization_id, status) VALUES (3, 'revoked')"
        )


async def test_user_email_is_stored_normalised(pool: Pool) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("INSERT INTO users (email) VALUES ('Mixed@Example.com')")
