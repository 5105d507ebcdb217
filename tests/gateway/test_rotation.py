from uuid import uuid4

import pytest

from gateway.db import Pool
from gateway.rotation import ENCRYPTED_COLUMNS, count_stale, rotate_keys
from gateway.settings import TokenKey
from gateway.vault import UnknownKeyError, Vault, row_aad
from tests.factories import make_shop

OLD = TokenKey("old", b"o" * 32)
NEW = TokenKey("new", b"n" * 32)


async def _connection(pool: Pool, vault: Vault, organization_id: int) -> tuple[str, str, str]:
    """A connection row with tokens under `vault`'s key; returns (id, access, refresh)."""
    connection_id = str(uuid4())
    access, refresh = f"access-{organization_id}", f"refresh-{organization_id}"
    await pool.execute(
        "INSERT INTO dinero_connections (id, organization_id, access_token_enc, "
        "refresh_token_enc, access_expires_at) VALUES ($1, $2, $3, $4, now())",
        connection_id,
        organization_id,
        vault.encrypt(access, aad=row_aad("dinero_connections", "access_token_enc", connection_id)),
        vault.encrypt(
            refresh, aad=row_aad("dinero_connections", "refresh_token_enc", connection_id)
        ),
    )
    return connection_id, access, refresh


async def _ciphertexts(pool: Pool) -> set[str]:
    values: set[str] = set()
    for spec in ENCRYPTED_COLUMNS:
        for column in spec.columns:
            rows = await pool.fetch(f"SELECT {column} AS v FROM {spec.table}")
            values |= {r["v"] for r in rows if r["v"] is not None}
    return values


async def test_rotation_re_encrypts_everything_and_keeps_it_readable(pool: Pool) -> None:
    old = Vault([OLD])
    shops = [await make_shop(pool, old) for _ in range(5)]
    connections = [await _connection(pool, old, 9000 + i) for i in range(7)]
    before = await _ciphertexts(pool)

    rotated_vault = Vault([NEW, OLD])
    assert await count_stale(pool, rotated_vault) == 5 + 14
    batches: list[str] = []
    report = await rotate_keys(
        pool, rotated_vault, batch_size=2, on_batch=lambda table, _: batches.append(table)
    )

    assert report.rotated == 5 + 14
    assert len(batches) >= 3 + 4  # really went in batches
    after = await _ciphertexts(pool)
    assert not before & after  # every ciphertext changed
    assert all(c.startswith("v1:new:") for c in after)
    assert await count_stale(pool, rotated_vault) == 0

    # Readable with the new key alone: the old one can be dropped now.
    new_only = Vault([NEW])
    for shop, secret, _ in shops:
        stored = await pool.fetchval("SELECT ingest_secret_enc FROM shops WHERE id=$1", shop.id)
        aad = row_aad("shops", "ingest_secret_enc", shop.id)
        assert new_only.decrypt(stored, aad=aad) == secret
    for connection_id, access, refresh in connections:
        row = await pool.fetchrow(
            "SELECT access_token_enc, refresh_token_enc FROM dinero_connections WHERE id=$1",
            connection_id,
        )
        assert row is not None
        aad = row_aad("dinero_connections", "access_token_enc", connection_id)
        assert new_only.decrypt(row["access_token_enc"], aad=aad).reveal() == access
        aad = row_aad("dinero_connections", "refresh_token_enc", connection_id)
        assert new_only.decrypt(row["refresh_token_enc"], aad=aad).reveal() == refresh

    again = await rotate_keys(pool, rotated_vault)
    assert again.rotated == 0
    assert again.examined == 12


async def test_rotation_without_the_old_key_names_it(pool: Pool) -> None:
    await make_shop(pool, Vault([OLD]))
    with pytest.raises(UnknownKeyError, match="'old'"):
        await rotate_keys(pool, Vault([NEW]))


async def test_every_encrypted_column_is_rotated(pool: Pool) -> None:
    rows = await pool.fetch(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND column_name LIKE '%\\_enc'"
    )
    in_schema = {(r["table_name"], r["column_name"]) for r in rows}
    listed = {(spec.table, column) for spec in ENCRYPTED_COLUMNS for column in spec.columns}
    assert in_schema == listed
