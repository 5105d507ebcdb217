"""The `gateway` command, run as a real subprocess against the test database."""

import base64
import json
import socket
import subprocess
import sys
import uuid

import pytest
from arq.connections import ArqRedis

from gateway import passwords
from gateway.db import Pool
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.accounts import users
from tenants.shops import repository as shops
from workers.system import HEARTBEAT_PREFIX

COMMANDS = [
    ["web"],
    ["worker"],
    ["migrate"],
    ["dev"],
    ["create-admin"],
    ["shops"],
    ["shops", "create"],
    ["sandbox"],
    ["keys"],
    ["keys", "rotate"],
    ["sources"],
    ["sources", "preview"],
]


def run(
    settings: Settings, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": "/usr/bin:/bin",
        "GATEWAY_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(settings: Settings, command: list[str]) -> None:
    result = run(settings, *command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: gateway " + " ".join(command))


def test_migrate_reports_an_up_to_date_database(settings: Settings) -> None:
    result = run(settings, "migrate")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


async def test_create_admin_creates_then_updates(settings: Settings, pool: Pool) -> None:
    first = run(
        settings,
        "create-admin",
        "Root@Example.com",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert first.returncode == 0, first.stderr
    assert "created platform admin root@example.com" in first.stdout
    again = run(
        settings,
        "create-admin",
        "root@example.com",
        "--password-stdin",
        stdin="another long password\n",
    )
    assert "updated" in again.stdout
    async with pool.acquire() as conn:
        admin = await users.get_by_email(conn, "root@example.com")
    assert admin is not None and admin.is_platform_admin
    assert passwords.verify_password("another long password", admin.password_hash)
    assert not passwords.verify_password("a long enough password", admin.password_hash)


async def test_create_admin_refuses_a_short_password(settings: Settings, pool: Pool) -> None:
    result = run(settings, "create-admin", "root@example.com", "--password-stdin", stdin="short\n")
    assert result.returncode == 2
    assert "at least" in result.stderr
    assert await pool.fetchval("SELECT count(*) FROM users") == 0


async def test_shops_create_prints_id_secret_and_invite(
    settings: Settings, pool: Pool, vault: Vault
) -> None:
    result = run(settings, "shops", "create", "Søstrene Sokker", "--owner", "ejer@example.dk")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    shop_id = uuid.UUID(printed["shop_id"])
    assert printed["slug"] == "soestrene-sokker"
    assert printed["ingest_url"].endswith(f"/api/v1/shops/{shop_id}/events")
    async with pool.acquire() as conn:
        secret = await shops.ingest_secret(conn, vault, shop_id)
        stored = await conn.fetchval("SELECT ingest_secret_enc FROM shops WHERE id = $1", shop_id)
        invite = printed["invite_url"].rsplit("/", 1)[1]
        purpose = await conn.fetchval(
            "SELECT purpose FROM user_tokens WHERE token_hash = $1", users.hash_token(invite)
        )
    assert secret is not None and secret.reveal() == printed["ingest_secret"]
    assert printed["ingest_secret"] not in stored
    assert purpose == "invite"

    second = json.loads(
        run(settings, "shops", "create", "Søstrene Sokker", "--owner", "ejer@example.dk").stdout
    )
    assert second["slug"] == "soestrene-sokker-2"
    assert second["invite_url"] is not None  # the owner still has no password


async def test_shops_create_with_bad_input_stores_nothing(settings: Settings, pool: Pool) -> None:
    result = run(settings, "shops", "create", "Shop", "--owner", "not-an-email")
    assert result.returncode == 2
    assert "not an e-mail address" in result.stderr
    result = run(settings, "shops", "create", "  ", "--owner", "a@example.com")
    assert result.returncode == 2
    assert (
        await pool.fetchval("SELECT (SELECT count(*) FROM shops) + (SELECT count(*) FROM users)")
        == 0
    )


def test_production_without_configuration_names_the_variables(settings: Settings) -> None:
    result = run(settings, "migrate", GATEWAY_ENV="production", DATABASE_URL="", REDIS_URL="")
    assert result.returncode == 2
    for variable in ("DATABASE_URL", "GATEWAY_SECRET_KEY", "GATEWAY_TOKEN_KEYS"):
        assert variable in result.stderr
    assert "Traceback" not in result.stderr


async def test_worker_check_reports_a_live_worker_on_this_host(
    settings: Settings, redis: ArqRedis
) -> None:
    dead = run(settings, "worker", "--check")
    assert dead.returncode == 1
    assert "no live worker" in dead.stdout
    await redis.set(f"{HEARTBEAT_PREFIX}{socket.gethostname()}:4242", "{}", ex=60)
    await redis.set(f"{HEARTBEAT_PREFIX}another-host:1", "{}", ex=60)
    alive = run(settings, "worker", "--check")
    assert alive.returncode == 0, alive.stderr
    assert alive.stdout.split() == [f"{socket.gethostname()}:4242"]


async def test_keys_rotate_moves_every_secret_to_the_newest_key(
    settings: Settings, pool: Pool, vault: Vault
) -> None:
    shop_id = uuid.UUID(
        json.loads(run(settings, "shops", "create", "Nøgle", "--owner", "k@example.dk").stdout)[
            "shop_id"
        ]
    )
    old = await pool.fetchval("SELECT ingest_secret_enc FROM shops WHERE id = $1", shop_id)
    dev_key = ",".join(f"{k.kid}:{base64.b64encode(k.key).decode()}" for k in settings.token_keys)
    keys = f"k2:{base64.b64encode(b'2' * 32).decode()},{dev_key}"

    result = run(settings, "keys", "rotate", GATEWAY_TOKEN_KEYS=keys)
    assert result.returncode == 0, result.stderr
    assert "1 secrets re-encrypted" in result.stdout
    new = await pool.fetchval("SELECT ingest_secret_enc FROM shops WHERE id = $1", shop_id)
    assert new != old and new.startswith("v1:k2:")

    # Without the key that encrypted them, rotation stops and names the key.
    result = run(settings, "keys", "rotate", GATEWAY_TOKEN_KEYS=dev_key)
    assert result.returncode == 1
    assert "'k2'" in result.stderr
