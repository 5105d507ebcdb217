"""The `gateway` command: its parser, and the verbs that serve (`web`, `worker`, `migrate`,
`dev`, `sandbox`, `sources preview`); the operator's verbs are in `cli.operations`.

A composition root: it reaches into `tenants/`, `web/` and `workers/` lazily, inside the
command that needs them. Settings are built from the process environment
(`cli.environment`) and passed down; nothing below `cli/` reads `os.environ`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cli.environment import settings_from_env
from cli.operations import cmd_create_admin, cmd_keys_rotate, cmd_shops_create
from gateway.settings import Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    settings = settings_from_env()
    # uvloop and httptools (C) rather than asyncio's loop and h11 (pure Python): they cut
    # the web process's CPU per ingested event by about a third (bench/ingest.py).
    run = functools.partial(
        uvicorn.run,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        proxy_headers=settings.is_production,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    if args.workers > 1:
        # Each process builds its own app (pools, Redis client) on one shared socket.
        run("cli.main:web_app", factory=True, workers=args.workers)
    else:
        run(web_app(settings))
    return 0


def web_app(settings: Settings | None = None) -> Starlette:
    """The web app with logging set up: `gateway web` builds it in each of its processes."""
    from gateway.logs import configure_logging
    from web.app import create_app

    settings = settings or settings_from_env()
    configure_logging(settings, process="web")
    app = create_app(settings)
    # What is built by now (modules, templates, the app) lives as long as the process: out
    # of the cyclic collector's sight, its full collections under load walk only what
    # requests made. Ingest at concurrency 32, one process, side by side on this machine:
    # p99 about 85-90 -> 50-60 ms, web CPU per event about a tenth less.
    gc.freeze()
    return app


def cmd_worker(args: argparse.Namespace) -> int:
    from gateway.logs import configure_logging
    from workers.settings import build_worker

    settings = settings_from_env()
    if args.check:
        return _check_worker(settings)
    configure_logging(settings, process="worker")
    build_worker(settings).run()
    return 0


def _check_worker(settings: Settings) -> int:
    """Exit 0 when a worker on this host has beaten its heartbeat within the last minute and
    reaches Postgres; otherwise say what is down."""
    import socket

    from gateway.outages import CONNECTION_ERRORS
    from gateway.queue import create_redis
    from workers.system import worker_beats

    async def run() -> dict[str, dict[str, object]]:
        redis = create_redis(settings.redis_url)
        try:
            return await worker_beats(redis, host=socket.gethostname())
        finally:
            await redis.aclose()

    try:
        beats = asyncio.run(run())
    except CONNECTION_ERRORS as exc:
        print(f"Redis unavailable ({type(exc).__name__}): no worker can take jobs")
        return 1
    if not beats:
        print("no live worker on this host")
        return 1
    for ident, beat in sorted(beats.items()):
        postgres = beat.get("postgres", "ok")
        print(ident if postgres == "ok" else f"{ident} Postgres {postgres}")
    return 0 if any(beat.get("postgres", "ok") == "ok" for beat in beats.values()) else 1


def cmd_migrate(args: argparse.Namespace) -> int:
    from gateway.logs import configure_logging
    from gateway.migrate import MigrationError, migrate

    settings = settings_from_env()
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
    from cli.dev import run_dev

    return run_dev(os.environ, host=args.host, port=args.port)


def cmd_sandbox(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from sandbox.app import DroppedResponseLogFilter, create_sandbox_app
    from sandbox.shopify.state import APP_CLIENT_ID as SHOPIFY_APP_ID
    from sandbox.shopify.state import APP_SECRET as SHOPIFY_APP_SECRET
    from sandbox.state import Sandbox

    # Not `settings_from_env()`: the sandbox needs no database, and in production that would fail
    # on a missing DATABASE_URL before it could say what is really wrong.
    if os.environ.get("GATEWAY_ENV", "").strip() == "production":
        print(
            "gateway sandbox: refusing to start with GATEWAY_ENV=production; the sandbox is "
            "a stand-in for Visma Connect and Dinero, for development, demos and tests only",
            file=sys.stderr,
        )
        return 2
    sandbox = Sandbox()
    smtp_address = (args.host, args.smtp_port) if args.smtp_port is not None else None
    config = uvicorn.Config(
        create_sandbox_app(sandbox, smtp_address=smtp_address),
        host=args.host,
        port=args.port,
        server_header=False,
    )
    # After uvicorn.Config, which configures its loggers.
    logging.getLogger("uvicorn.error").addFilter(DroppedResponseLogFilter())
    host = f"[{args.host}]" if ":" in args.host else args.host
    client = next(iter(sandbox.clients.values()))
    print(f"Dinero sandbox on http://{host}:{args.port}")
    print(f"  client id {client.client_id}, secret {client.secret}")
    print(f"  signed in as {sandbox.user.name} <{sandbox.user.email}>, organisations:")
    for org in sandbox.organizations_of(sandbox.user):
        print(f"    {org.id}  {org.name}{'' if org.is_pro else '  (not Pro)'}")
    print(f"  control endpoints under http://{host}:{args.port}/_sandbox/")
    print(f"Shopify sandbox: app {SHOPIFY_APP_ID}, secret {SHOPIFY_APP_SECRET}")
    print(f"  SHOPIFY_SHOP_URL=http://{host}:{args.port}/_shopify/{{shop}}")
    print(f"  control endpoints under http://{host}:{args.port}/_sandbox/shopify/")
    if smtp_address is not None:
        mailbox = f"http://{host}:{args.port}/_sandbox/mail"
        print(f"Mail sink: smtp://{host}:{args.smtp_port}, read at {mailbox}")
    print(end="", flush=True)
    # Ctrl-C (to the terminal's whole group under `gateway dev`) is a normal way to stop.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run()
    return 0


def cmd_sources_preview(args: argparse.Namespace) -> int:
    from cli.preview import run

    status, out, err = run(args.platform, args.order, args.refund, args.account or ())
    sys.stdout.write(out)
    sys.stderr.write(err)
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway",
        description="Dinero Gateway: webshop orders to Dinero invoices, exactly once.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    web = sub.add_parser("web", help="serve the dashboard, ingest API and OAuth callback")
    web.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    web.add_argument("--port", type=int, default=8000, help="port to bind (default %(default)s)")
    web.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes serving the port (default %(default)s); one per core beside Postgres",
    )
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

    sandbox = sub.add_parser(
        "sandbox",
        help="serve a local stand-in for Visma Connect and the Dinero API",
        description="For development, demos and tests; refuses to start when "
        "GATEWAY_ENV=production. State lives in memory and is lost on exit.",
    )
    sandbox.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default %(default)s)"
    )
    sandbox.add_argument(
        "--port", type=int, default=8081, help="port to bind (default %(default)s)"
    )
    sandbox.add_argument(
        "--smtp-port",
        type=int,
        default=None,
        help="also accept mail by SMTP on this port, shown at /_sandbox/mail (default: no)",
    )
    sandbox.set_defaults(func=cmd_sandbox)

    keys = sub.add_parser("keys", help="manage the keys that encrypt stored secrets")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    rotate = keys_sub.add_parser(
        "rotate",
        help="re-encrypt every stored secret with the newest key (online, in batches)",
        description="Put the new key first in GATEWAY_TOKEN_KEYS (kid:base64, comma-separated) "
        "on every process, then run this until it reports nothing left; then drop the old key.",
    )
    rotate.add_argument(
        "--batch-size", type=int, default=200, help="rows per transaction (default %(default)s)"
    )
    rotate.set_defaults(func=cmd_keys_rotate)

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

    sources = sub.add_parser("sources", help="where orders come from: shop platforms")
    sources_sub = sources.add_subparsers(dest="sources_command", required=True, metavar="ACTION")
    preview = sources_sub.add_parser(
        "preview",
        help="show what the gateway would book for a platform's order JSON (no side effects)",
        description="Prints JSON with the canonical order and the invoice and credit notes it "
        "owes under default shop settings (trigger paid, booked, the standard chart). Exits 1 "
        "with the problem (application/problem+json) when the gateway would refuse the order.",
    )
    preview.add_argument(
        "platform",
        choices=("shopify", "woocommerce"),
        metavar="PLATFORM",
        help="shopify or woocommerce",
    )
    preview.add_argument("order", metavar="ORDER.json", help="the order in the platform's JSON")
    preview.add_argument(
        "--refund", metavar="REFUND.json", help="a refund in the platform's JSON, for that order"
    )
    preview.add_argument(
        "--account",
        action="append",
        metavar="ROLE=NUMBER",
        help="an account a shop chose instead of the standard chart's, e.g. gift_cards=6850 "
        "(the standard chart has no account for gift cards sold); repeatable",
    )
    preview.set_defaults(func=cmd_sources_preview)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
