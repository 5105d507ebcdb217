"""One process of the two-process refresh race: `python -m tests.refresh_race DATABASE_URL
SANDBOX_URL CONNECTION_ID N` asks for the connection's token N times at once and prints the
tokens it got as a JSON list."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from uuid import UUID

import httpx

from gateway.db import create_pool
from gateway.dinero.oauth import VismaConnect
from gateway.secret import Secret
from gateway.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings
from gateway.vault import Vault
from tenants.dinero.connections.service import access_token_for


async def main(database_url: str, sandbox_url: str, connection_id: UUID, n: int) -> list[str]:
    settings = Settings.from_env({"GATEWAY_ENV": "test", "DATABASE_URL": database_url})
    pool = await create_pool(database_url, application_name="refresh-race", max_size=n)
    try:
        async with httpx.AsyncClient() as http:
            visma = VismaConnect(
                http,
                auth_url=sandbox_url,
                client_id=SANDBOX_CLIENT_ID,
                client_secret=Secret(SANDBOX_CLIENT_SECRET),
            )
            vault = Vault(settings.token_keys)
            now = datetime.now(UTC)
            tokens = await asyncio.gather(
                *(access_token_for(pool, vault, visma, connection_id, now=now) for _ in range(n))
            )
    finally:
        await pool.close()
    return [t.reveal() for t in tokens]


if __name__ == "__main__":
    url, sandbox, connection, count = sys.argv[1:5]
    print(json.dumps(asyncio.run(main(url, sandbox, UUID(connection), int(count)))))  # noqa: T201
