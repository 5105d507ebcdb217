"""The `gateway` command.

This module is the composition root: the one place in `gateway/` that reaches into
`tenants/`, `web/` and `workers/`, lazily, inside the command that needs them. Settings are
built here from the process environment and passed down; nothing below reads `os.environ`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Sequence

from gateway.settings import Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.logs import configure_logging
    from web.app import create_app

    settings = _settings()
    configure_logging(settings, process="web")
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        proxy_headers=settings.is_production,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from gateway.logs import configure_logging
    from workers.settings import build_worker

    settings = _settings()
    if args.check:
        return _check_worker(settings)
    configure_logging(settings, process="worker")
    build_worker(settings).run()
    return 0


def _check_worker(settings: Settings) -> int:
    """Exit 0 when a worker on this host has beaten its heartbeat within the last minute."""
    import socket

    from gateway.queue import create_redis
    from workers.system import live_workers

    async def run() -> list[str]:
        redis = create_redis(settings.redis_url)
        try:
            return await live_workers(redis, host=socket.gethostname())
        finally:
            await redis.aclose()

    alive = asyncio.run(run())
    print("\n".join(alive) if alive else "no live worker on this host")
    return 0 if alive else 1


def cmd_migrate(args: argparse.Namespace) -> int:
    from gateway.logs import configure_logging
    from gateway.migrate import MigrationError, migrate

    settings = _settings()
    configure_logging(settings, process="migrate")
    try:
        applied = asyncio.run(migrate(settings.database_url))
    except MigrationError as exc:
        print(f"gateway migrate: {exc}", file=sys.stderr)
        return 1
    if applied:
        for m in applied:
            print(f"applied {m.version:04d}_{m.name}")
    else:
        print("database is up to date")
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from gateway.devserver import run_dev

    return run_dev(os.environ, host=args.host, port=args.port)


def cmd_create_admin(args: argparse.Namespace) -> int:
    from gateway import passwords
    from gateway.db import connect
    from tenants import users

    settings = _settings()
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
    from tenants import shops, users

    settings = _settings()
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway",
        description="Dinero Gateway: webshop orders to Dinero invoices, exactly once.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    web = sub.add_parser("web", help="serve the dashboard, ingest API and OAuth callback")
    web.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    web.add_argument("--port", type=int, default=8000, help="port to bind (default %(default)s)")
    web.set_defaults(func=cmd_web)

    worker = sub.add_parser("worker", help="run the arq worker (posting jobs and crons)")
    worker.add_argument(
        "--check",
        action="store_true",
        help="do not run; exit 0 if a worker on this host is alive (for health checks)",
    )
    worker.set_defaults(func=cmd_worker)

    migrate = sub.add_parser("migrate", help="apply pending SQL migrations")
    migrate.set_defaults(func=cmd_migrate)

    dev = sub.add_parser(
        "dev",
        help="run everything locally (starts Postgres/Redis if none are reachable)",
        description="Reuses DATABASE_URL/REDIS_URL, or local servers on the default ports, "
        "or starts its own with data in .dev/; migrates, seeds demo data, and runs web and "
        "worker until Ctrl-C.",
    )
    dev.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    dev.add_argument("--port", type=int, default=8000, help="web port; the next free one if taken")
    dev.set_defaults(func=cmd_dev)

    admin = sub.add_parser("create-admin", help="create a platform admin (or reset one)")
    admin.add_argument("email", metavar="EMAIL")
    admin.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    admin.set_defaults(func=cmd_create_admin)

    shops = sub.add_parser("shops", help="manage shops")
    shops_sub = shops.add_subparsers(dest="shops_command", required=True, metavar="ACTION")
    create = shops_sub.add_parser(
        "create",
        help="create a shop (and its owner if new)",
        description="Prints JSON with the shop id, its ingest secret and an invite link.",
    )
    create.add_argument("name", metavar="NAME")
    create.add_argument("--owner", required=True, metavar="EMAIL", help="the owner's e-mail")
    create.set_defaults(func=cmd_shops_create)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
