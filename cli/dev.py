"""`gateway dev`: the whole product in one terminal.

Finds or starts Postgres and Redis (see `gateway.localservices`), migrates, seeds the demo
tenants, then runs `gateway sandbox`, `gateway web` and `gateway worker` as child processes:
the same processes production runs, so what works here works there. The web and worker
talk to the sandbox (Visma Connect and Dinero on one local port) unless `DINERO_AUTH_URL`
or `DINERO_API_URL` is set. The sandbox also receives the gateway's mail (an SMTP sink on a
port of its own, `GATEWAY_SMTP_URL` pointing at it unless set), shown at `/_sandbox/mail`.
Ctrl-C or SIGTERM stops the children first, then the servers this command started, and
leaves nothing running.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from gateway.db import create_pool
from gateway.localservices import DEV_DATABASE, ensure_services, free_port
from gateway.migrate import MigrationError, migrate
from gateway.processes import parent_death_signal, stop
from gateway.settings import Settings, SettingsError
from gateway.vault import Vault

_STOP_TIMEOUT = 10.0
SANDBOX_PORT = 8081
SMTP_PORT = 2525


def project_dir() -> Path:
    """The checkout this package runs from (an editable install), else the working directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def run_dev(environ: Mapping[str, str], *, host: str, port: int) -> int:
    if environ.get("GATEWAY_ENV", "development") == "production":
        print("gateway dev: refusing to run with GATEWAY_ENV=production", file=sys.stderr)
        return 2
    stop_flag = _StopFlag()
    started = time.monotonic()
    with ensure_services(project_dir(), purpose="dev", environ=environ) as services:
        web_port = free_port(host, port)
        own_sandbox = not (environ.get("DINERO_AUTH_URL") or environ.get("DINERO_API_URL"))
        sandbox_url = ""
        smtp_port = 0
        env = {
            **environ,
            "GATEWAY_ENV": environ.get("GATEWAY_ENV") or "development",
            "DATABASE_URL": services.database_url,
            "REDIS_URL": services.redis_url,
            "GATEWAY_BASE_URL": environ.get("GATEWAY_BASE_URL") or f"http://{host}:{web_port}",
            # A token of this run's own, so /metrics can be tried (the banner shows how).
            "GATEWAY_METRICS_TOKEN": environ.get("GATEWAY_METRICS_TOKEN")
            or secrets.token_urlsafe(24),
        }
        if own_sandbox:
            sandbox_port = free_port(host, SANDBOX_PORT if port != SANDBOX_PORT else 0)
            sandbox_url = f"http://{host}:{sandbox_port}"
            env |= {"DINERO_AUTH_URL": sandbox_url, "DINERO_API_URL": sandbox_url}
            if not environ.get("SHOPIFY_SHOP_URL"):  # the sandbox's stores
                env["SHOPIFY_SHOP_URL"] = f"{sandbox_url}/_shopify/{{shop}}"
            if not environ.get("GATEWAY_SMTP_URL"):  # the sandbox's mail sink
                smtp_port = free_port(host, SMTP_PORT)
                env["GATEWAY_SMTP_URL"] = f"smtp://{host}:{smtp_port}"
        try:
            settings = Settings.from_env(env)
        except SettingsError as exc:
            print(f"gateway dev: {exc}", file=sys.stderr)
            return 2
        if stop_flag.set:  # Ctrl-C while the servers were starting
            return 0
        try:
            demo_shops = asyncio.run(_prepare(settings))
        except MigrationError as exc:
            print(
                f"gateway dev: {exc}\n  (demo data only? start over: "
                f"psql -c 'DROP DATABASE {DEV_DATABASE}' on that server, or rm -rf .dev)",
                file=sys.stderr,
            )
            return 1
        if stop_flag.set:
            return 0
        children: dict[str, subprocess.Popen[bytes]] = {}
        ready = [f"http://{host}:{web_port}/readyz"]
        if own_sandbox:
            sandbox_args = ["sandbox", "--host", host, "--port", str(sandbox_port)]
            if smtp_port:
                sandbox_args += ["--smtp-port", str(smtp_port)]
            children["sandbox"] = _spawn(sandbox_args, env, quiet=True)
            ready.append(f"{sandbox_url}/_sandbox/organizations")
        children |= {
            "web": _spawn(["web", "--host", host, "--port", str(web_port)], env),
            "worker": _spawn(["worker"], env),
        }
        try:
            if all(_wait_ready(url, children, stop_flag) for url in ready):
                connected, store_admin, woo_store = (
                    asyncio.run(_connect_demo(settings, sandbox_url))
                    if own_sandbox
                    else ("", "", ("", ""))
                )
                _print_banner(
                    settings,
                    demo_shops,
                    time.monotonic() - started,
                    sandbox_url,
                    connected,
                    store_admin,
                    woo_store,
                    f"{sandbox_url}/_sandbox/mail" if smtp_port else "",
                )
                return _supervise(children, stop_flag)
            return 0 if stop_flag.set else 1
        finally:
            stop(*children.values(), sig=signal.SIGTERM, timeout=_STOP_TIMEOUT)


async def _prepare(settings: Settings) -> list[tuple[str, str, str]]:
    from cli import demo

    await migrate(settings.database_url)
    pool = await create_pool(settings.database_url, application_name="gateway-dev", max_size=2)
    try:
        shops = await demo.seed(pool, Vault(settings.token_keys))
    finally:
        await pool.close()
    return [(s.name, str(s.id), s.ingest_secret.reveal()) for s in shops]


async def _connect_demo(settings: Settings, sandbox_url: str) -> tuple[str, str, tuple[str, str]]:
    """Connects the demo shops to Dinero and opens the demo Shopify and WooCommerce stores:
    the organisation's name, the Shopify store's admin page, and the WooCommerce store's
    URL and admin page."""
    from datetime import UTC, datetime

    import httpx

    from cli import demo
    from gateway.dinero.client import DineroClient
    from gateway.dinero.oauth import VismaConnect

    pool = await create_pool(settings.database_url, application_name="gateway-dev", max_size=2)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            visma = VismaConnect(
                http,
                auth_url=settings.dinero_auth_url,
                client_id=settings.dinero_client_id,
                client_secret=settings.dinero_client_secret,
            )
            store_admin = await demo.open_shopify_store(http, sandbox_url)
            woo_store = await demo.open_woocommerce_store(http, sandbox_url)
            organization = await demo.connect_to_sandbox(
                pool,
                Vault(settings.token_keys),
                visma,
                lambda token: DineroClient(http, settings.dinero_api_url, token),
                http=http,
                sandbox_url=sandbox_url,
                redirect_uri=f"{settings.base_url}/oauth/dinero/callback",
                now=datetime.now(UTC),
            )
            return organization, store_admin, woo_store
    finally:
        await pool.close()


def _print_banner(
    settings: Settings,
    shops: list[tuple[str, str, str]],
    seconds: float,
    sandbox_url: str,
    connected: str,
    store_admin: str = "",
    woo_store: tuple[str, str] = ("", ""),
    mailbox: str = "",
) -> None:
    from cli import demo

    lines = [
        "",
        f"  Dinero Gateway is running at {settings.base_url}  (ready in {seconds:.1f} s)",
        f"  Dinero sandbox (Visma Connect + API) at {sandbox_url}"
        if sandbox_url
        else f"  Dinero at {settings.dinero_api_url}, Visma Connect at {settings.dinero_auth_url}",
        "",
        f"  platform admin  {demo.ADMIN_EMAIL} / {demo.ADMIN_PASSWORD}",
        f"  shop owner      {demo.OWNER_EMAIL} / {demo.OWNER_PASSWORD}",
        "",
    ]
    for name, shop_id, secret in shops:
        lines.append(f"  shop {name:<12} id {shop_id}  ingest secret {secret}")
    if connected:
        lines.append(f"  both shops post into the sandbox organisation {connected}")
    if store_admin:
        lines += [
            "",
            f"  Shopify store   {demo.SHOPIFY_STORE}  (the sandbox's; orders and refunds at",
            f"                  {store_admin})",
            "                  connect it on Sokkeriet's page: Order sources → Connect Shopify",
        ]
    store_url, woo_admin = woo_store
    if store_url:
        lines += [
            "",
            f"  WooCommerce     {store_url}  (the sandbox's; orders, refunds and failing",
            f"                  deliveries at {woo_admin})",
            "                  connect it on Strikkeriet's page: Order sources → Connect "
            "WooCommerce",
        ]
    if mailbox:
        lines += ["", f"  mail            {mailbox}  (what the gateway sent; nothing leaves)"]
    elif settings.smtp is None:
        lines += ["", "  mail            off (no GATEWAY_SMTP_URL): alerts wait in the outbox"]
    else:
        lines += ["", f"  mail            sent through {settings.smtp.display}"]
    if settings.metrics_token is not None:
        lines += [
            "",
            f"  metrics         curl -H 'Authorization: Bearer "
            f"{settings.metrics_token.reveal()}' {settings.base_url}/metrics",
        ]
    lines += ["", "  Ctrl-C stops everything.", ""]
    print("\n".join(lines), flush=True)


class _StopFlag:
    def __init__(self) -> None:
        self.signum: int | None = None
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum

    @property
    def set(self) -> bool:
        return self.signum is not None


def _spawn(
    args: list[str], env: Mapping[str, str], *, quiet: bool = False
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        env=dict(env),
        # The sandbox prints its own banner; ours says what matters.
        stdout=subprocess.DEVNULL if quiet else None,
        preexec_fn=parent_death_signal(signal.SIGTERM),
    )


def _wait_ready(
    url: str, children: dict[str, subprocess.Popen[bytes]], stop_flag: _StopFlag
) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not stop_flag.set:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"gateway dev: {name} exited with {child.returncode}", file=sys.stderr)
                return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own URL
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    if not stop_flag.set:
        print(f"gateway dev: {url} did not become ready within 60 s", file=sys.stderr)
    return False


def _supervise(children: dict[str, subprocess.Popen[bytes]], stop_flag: _StopFlag) -> int:
    while not stop_flag.set:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"gateway dev: {name} exited ({child.returncode}); stopping", file=sys.stderr)
                return 1
        time.sleep(0.2)
    return 0
