"""The operator's verbs: `gateway keys rotate`, `gateway create-admin` and `gateway shops
create`. Each builds what it needs inside the command, as `cli.main`'s verbs do."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys

from cli.environment import settings_from_env


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from gateway.db import create_pool
    from gateway.logs import configure_logging
    from gateway.rotation import count_stale, rotate_keys
    from gateway.vault import Vault, VaultError

    settings = settings_from_env()
    configure_logging(settings, process="keys")
    vault = Vault(settings.token_keys)

    async def run() -> int:
        pool = await create_pool(settings.database_url, application_name="gateway-keys", max_size=2)
        try:
            report = await rotate_keys(pool, vault, batch_size=args.batch_size)
            left = await count_stale(pool, vault)
        finally:
            await pool.close()
        print(f"{report}; newest key {vault.current_kid!r}")
        if left:
            print(f"{left} values were written with an older key meanwhile; run again")
            return 1
        print("every stored secret uses the newest key: older keys can now be removed")
        return 0

    try:
        return asyncio.run(run())
    except VaultError as exc:
        print(f"gateway keys rotate: {exc}", file=sys.stderr)
        return 1


def cmd_create_admin(args: argparse.Namespace) -> int:
    from gateway import passwords
    from gateway.db import connect
    from tenants.accounts import users

    settings = settings_from_env()
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            print("gateway: the passwords differ", file=sys.stderr)
            return 2
    try:
        email = users.normalize_email(args.email)
        passwords.check_policy(password)
    except ValueError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2

    async def run() -> bool:
        password_hash = await asyncio.to_thread(passwords.hash_password, password)
        conn = await connect(settings.database_url, application_name="gateway-cli")
        try:
            async with conn.transaction():
                _, created = await users.upsert_admin(
                    conn, email=email, password_hash=password_hash
                )
            return created
        finally:
            await conn.close()

    created = asyncio.run(run())
    print(f"{'created' if created else 'updated'} platform admin {email}")
    return 0


def cmd_shops_create(args: argparse.Namespace) -> int:
    from gateway.db import create_pool
    from gateway.vault import Vault
    from tenants.accounts import users
    from tenants.shops import repository as shops

    settings = settings_from_env()
    try:
        users.normalize_email(args.owner)
    except ValueError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    if not args.name.strip():
        print("gateway: the shop needs a name", file=sys.stderr)
        return 2

    async def run() -> shops.CreatedShop:
        pool = await create_pool(settings.database_url, application_name="gateway-cli", max_size=1)
        try:
            return await shops.create_shop_for_owner(
                pool, Vault(settings.token_keys), name=args.name, owner_email=args.owner
            )
        finally:
            await pool.close()

    created = asyncio.run(run())
    print(json.dumps(shops.created_shop_json(created, base_url=settings.base_url), indent=2))
    return 0
