"""Benchmark (a): ingest events/s and latency at concurrency 32, beside `pgbench` doing a
single-row insert at the same concurrency, for the same duration, on the same server.

Run from the project root with Postgres and Redis up (`DATABASE_URL`, `REDIS_URL` as usual;
defaults are the local ones):

    .venv/bin/python -m bench.ingest                    # 6000 events, httpx, one web process
    .venv/bin/python -m bench.ingest --client raw       # a minimal HTTP/1.1 client instead
    .venv/bin/python -m bench.ingest --processes 2      # two `gateway web` processes
    .venv/bin/python -m bench.ingest --profile /tmp/web # cProfile each web process (slower)

Targets: ingest ≥ 0.5 × pgbench's tps, and p99 < 50 ms.

What runs: a fresh database (created, migrated, dropped at the end) and an empty Redis
database (flushed at the end); `gateway web` itself, real uvicorn on loopback, as deployed
(its access log at INFO goes to /dev/null). In-process ASGI would leave out the HTTP server
and the sockets, which are a real part of every event's cost, so it would flatter us. This
process posts pre-signed events, 32 at a time over keep-alive connections. Every event is an
`order.paid` for a new order of a shop whose trigger is `paid`: the full path (verify, parse,
VAT check, delivery + order + invoice rows in one transaction, the answer stored, an arq job
enqueued). There are enough shops for each to stay under the enqueue budget, so every event
also pays for its Redis enqueue. A warm-up (not counted) fills the connection pools first.
Afterwards it checks that every event got a 202 and made one invoice.

Everything shares this machine's CPUs, the load generator included (pgbench's C client is
cheap; httpx is not). So the CPU each part used per event is printed too — web, load
generator, Postgres, Redis — which says where the time goes whatever the machine. `--client
raw` swaps httpx for a bare asyncio HTTP/1.1 client to show what the server does when the
load generator takes less of the machine. Other work on the machine (another benchmark, a test
run) takes CPU from all of them: the load average before the run and the CPU used by processes
that are not ours are printed, so a disturbed run can be told apart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import math
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

import httpx
import redis as sync_redis

from bench.environment import empty_redis, fresh_database, with_path
from gateway.db import connect, create_pool
from gateway.queue import QUEUE_NAME
from gateway.secret import Secret
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.accounts import users
from tenants.orders.ingest import ENQUEUE_AHEAD
from tenants.shops import repository as shops
from tenants.shops.ingest_secrets import sign
from web.openapi import EXAMPLE_EVENT

WARM_UP = 300
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Signed:
    path: str
    body: bytes
    signature: str


# --- CPU accounting ----------------------------------------------------------------------------


def _cpu_of(stat: str) -> float:
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _cpu_of_processes(command: str, containing: str = "") -> float:
    """CPU of the live processes named `command` whose command line contains `containing`
    (Postgres backends show their database there)."""
    total = 0.0
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            stat = (proc / "stat").read_text()
            if stat[stat.index("(") + 1 : stat.rindex(")")] != command:
                continue
            if containing in (proc / "cmdline").read_bytes().decode(errors="replace"):
                total += _cpu_of(stat)
    return total


@dataclass
class Cpu:
    """CPU seconds used so far, by part."""

    web_pids: list[int]
    database: str = ""
    parts: dict[str, float] = field(default_factory=dict)

    def sample(self) -> Cpu:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        first_line = Path("/proc/stat").read_text().split("\n")[0].split()
        ticks = [int(n) for n in first_line[1:8]]
        return Cpu(
            self.web_pids,
            self.database,
            {
                "web": sum(_cpu_of(Path(f"/proc/{p}/stat").read_text()) for p in self.web_pids),
                "load generator": usage.ru_utime + usage.ru_stime,
                # Our database's backends only: other databases on the server are not ours.
                "Postgres": _cpu_of_processes("postgres", f" {self.database} "),
                "Redis": _cpu_of_processes("redis-server"),
                # Busy time of all cores: not idle, not waiting on I/O.
                "machine": (sum(ticks) - ticks[3] - ticks[4]) / _TICKS,
            },
        )

    def __sub__(self, earlier: Cpu) -> dict[str, float]:
        return {name: value - earlier.parts[name] for name, value in self.parts.items()}


@dataclass
class Run:
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]
    cpu: dict[str, float]

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


# --- setting up --------------------------------------------------------------------------------


async def make_shops(database_url: str, vault: Vault, count: int) -> list[tuple[str, Secret]]:
    pool = await create_pool(database_url, application_name="bench")
    made = []
    try:
        async with pool.acquire() as conn, conn.transaction():
            owner = await users.create_user(conn, email="bench@example.com")
            for n in range(count):
                shop, secret = await shops.create_shop(
                    conn, vault, name=f"Bench shop {n}", owner_id=owner.id
                )
                made.append((str(shop.id), secret))
    finally:
        await pool.close()
    return made


def events(shop_secrets: list[tuple[str, Secret]], count: int, tag: str) -> list[Signed]:
    """`count` signed `order.paid` events for new orders, spread evenly over the shops."""
    now = int(time.time())
    signed = []
    for n in range(count):
        shop_id, secret = shop_secrets[n % len(shop_secrets)]
        body = copy.deepcopy(EXAMPLE_EVENT)
        body["id"] = f"evt-{tag}-{n}"
        body["order"]["id"] = body["order"]["number"] = f"{tag}-{n}"
        raw = json.dumps(body).encode()
        signed.append(Signed(f"/api/v1/shops/{shop_id}/events", raw, sign(secret, now, raw)))
    return signed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def web_servers(
    env: dict[str, str],
    count: int,
    log: Path | None = None,
    profile: Path | None = None,
    *,
    own_base_url: bool = False,
) -> Iterator[list[tuple[int, int]]]:
    """`count` `gateway web` processes; yields their (port, pid). With `profile`, each runs
    under cProfile and writes `<profile>.<n>` when it stops (it runs slower then). With
    `own_base_url`, each is told its own address as `GATEWAY_BASE_URL` (for the URLs it
    hands out, such as the webhooks it makes)."""
    gateway = shutil.which("gateway", path=str(Path(sys.executable).parent))
    if gateway is None:
        raise SystemExit("the `gateway` command is not installed in this venv")
    started = []
    with log.open("ab") if log else open(os.devnull, "wb") as output:
        try:
            for n in range(count):
                port = _free_port()
                command = [gateway, "web", "--host", "127.0.0.1", "--port", str(port)]
                if profile is not None:
                    command = [sys.executable, "-c", _PROFILED, f"{profile}.{n}", *command[1:]]
                variables = (
                    {**env, "GATEWAY_BASE_URL": f"http://127.0.0.1:{port}"} if own_base_url else env
                )
                process = subprocess.Popen(command, env=variables, stdout=output, stderr=output)
                started.append((port, process))
            for port, _ in started:
                _wait_ready(port)
            yield [(port, process.pid) for port, process in started]
        finally:
            for _, process in started:
                process.terminate()
            for _, process in started:
                process.wait(timeout=20)


# Runs `gateway <args>` under cProfile. uvicorn re-raises SIGTERM after its graceful shutdown,
# which would kill the process before cProfile writes: this handler writes it first.
_PROFILED = """
import cProfile, signal, sys
from cli.main import main
out = sys.argv[1]
profiler = cProfile.Profile()
def stop(*_):
    profiler.disable()
    profiler.dump_stats(out)
    raise SystemExit(0)
signal.signal(signal.SIGTERM, stop)
sys.argv = ["gateway", *sys.argv[2:]]
profiler.enable()
main()
"""


def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"gateway web on port {port} did not become ready")


# --- load --------------------------------------------------------------------------------------

Sender = Callable[[Signed], Awaitable[int]]


@contextlib.asynccontextmanager
async def httpx_sender(port: int) -> AsyncIterator[Sender]:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
    ) as client:

        async def send(item: Signed) -> int:
            headers = {"Content-Type": "application/json", "Gateway-Signature": item.signature}
            response = await client.post(item.path, content=item.body, headers=headers)
            return response.status_code

        yield send


@contextlib.asynccontextmanager
async def raw_sender(port: int) -> AsyncIterator[Sender]:
    """One keep-alive HTTP/1.1 connection, spoken by hand: the cheapest honest client."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send(item: Signed) -> int:
        writer.write(
            f"POST {item.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nGateway-Signature: {item.signature}\r\n"
            f"Content-Length: {len(item.body)}\r\n\r\n".encode()
            + item.body
        )
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) != b"\r\n":
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        return status

    try:
        yield send
    finally:
        writer.close()


async def post_all(
    servers: list[tuple[int, int]],
    signed: list[Signed],
    concurrency: int,
    client: str,
    database: str = "",
) -> Run:
    """Posts everything over `concurrency` connections spread over the servers."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    pending = iter(signed)
    connect_to = raw_sender if client == "raw" else httpx_sender

    async def worker(send: Sender) -> None:
        for item in pending:
            started = time.perf_counter()
            status = await send(item)
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] = statuses.get(status, 0) + 1

    async with contextlib.AsyncExitStack() as stack:
        # Clients are made before the clock starts: an httpx client builds an SSL context,
        # tens of milliseconds that would otherwise stall the first requests.
        senders = [
            await stack.enter_async_context(connect_to(servers[n % len(servers)][0]))
            for n in range(concurrency)
        ]
        before = Cpu([pid for _, pid in servers], database).sample()
        started = time.perf_counter()
        await asyncio.gather(*(worker(send) for send in senders))
        seconds = time.perf_counter() - started
        cpu = before.sample() - before
    return Run(seconds, latencies, statuses, cpu)


# --- pgbench -----------------------------------------------------------------------------------


def pgbench(database_url: str, seconds: int, concurrency: int) -> tuple[float, dict[str, float]]:
    binary = shutil.which("pgbench")
    if binary is None:
        raise FileNotFoundError("pgbench")
    parts = urlsplit(database_url)
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write("INSERT INTO bench_insert (payload) VALUES ('{\"order\": 1}');\n")
        script.flush()
        command = [
            binary,
            "-n",  # no vacuum of pgbench's own tables, which we do not use
            *("-c", str(concurrency), "-j", str(min(concurrency, os.cpu_count() or 1))),
            *("-T", str(seconds), "-f", script.name),
            *("-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)),
            *("-U", parts.username or "postgres", parts.path.lstrip("/")),
        ]
        before = Cpu([]).sample()
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env={**os.environ, "PGPASSWORD": parts.password or ""},
            check=True,
        )
        cpu = Cpu([]).sample() - before
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout)
    if match is None:
        raise SystemExit(f"could not read pgbench's output:\n{result.stdout}")
    return float(match.group(1)), cpu


# --- the run -----------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    # Other work on the machine takes CPU from every part: say how busy it was.
    args.load_before = os.getloadavg()[0]
    server = with_path(
        os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres",
        "/postgres",
    )
    with empty_redis(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0") as redis_url:
        async with fresh_database(server) as database_url:
            env = {
                **os.environ,
                "GATEWAY_ENV": "development",
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "GATEWAY_LOG_LEVEL": "INFO",
            }
            settings = Settings.from_env(env)
            # Each shop stays below the enqueue budget, so every event is enqueued directly.
            shop_count = math.ceil((args.events + WARM_UP) / (ENQUEUE_AHEAD - 1))
            shop_secrets = await make_shops(database_url, Vault(settings.token_keys), shop_count)
            warm_up = events(shop_secrets, WARM_UP, "warm")
            measured = events(shop_secrets, args.events, "run")
            with web_servers(env, args.processes, args.server_log, args.profile) as servers:
                await post_all(servers, warm_up, args.concurrency, args.client)
                database = urlsplit(database_url).path.lstrip("/")
                run = await post_all(servers, measured, args.concurrency, args.client, database)
            conn = await connect(database_url, application_name="bench")
            try:
                invoices = await conn.fetchval("SELECT count(*) FROM documents")
                await conn.execute(
                    "CREATE TABLE bench_insert (id bigint GENERATED ALWAYS AS IDENTITY "
                    "PRIMARY KEY, payload jsonb NOT NULL, created_at timestamptz NOT NULL "
                    "DEFAULT now())"
                )
            finally:
                await conn.close()
            jobs = cast(int, sync_redis.Redis.from_url(redis_url).zcard(QUEUE_NAME))
            report_ingest(args, run, invoices=invoices, jobs=jobs)
            try:
                tps, cpu = pgbench(database_url, max(1, round(run.seconds)), args.concurrency)
            except FileNotFoundError:
                print("pgbench is not installed here: no comparison")
                return
    print(
        f"pgbench: single-row insert, -c {args.concurrency}, {round(run.seconds)} s: "
        f"{tps:,.0f} tps; machine CPU per insert (pgbench and Postgres) "
        f"{cpu['machine'] / (tps * round(run.seconds)) * 1000:.3f} ms; machine busy "
        f"{cpu['machine'] / round(run.seconds):.1f} of {os.cpu_count()} cores"
    )
    print(
        f"ratio {run.rate / tps:.3f}× (target ≥ 0.5×); "
        f"p99 {run.percentile(99):.1f} ms (target < 50 ms)"
    )


def report_ingest(args: argparse.Namespace, run: Run, *, invoices: int, jobs: int) -> None:
    count = len(run.latencies_ms)
    print(
        f"ingest: {count} events, concurrency {args.concurrency}, {args.processes} "
        f"`gateway web` process(es) (uvicorn, loopback), client {args.client}"
    )
    print(
        f"  statuses {run.statuses}; invoices in the database {invoices} and arq jobs in "
        f"Redis {jobs} (both incl. {WARM_UP} warm-up)"
    )
    print(f"  {run.rate:,.0f} events/s over {run.seconds:.1f} s")
    print(
        f"  latency p50 {run.percentile(50):.1f} ms, p99 {run.percentile(99):.1f} ms, "
        f"max {max(run.latencies_ms):.1f} ms, mean {statistics.fmean(run.latencies_ms):.1f} ms"
    )
    per_event = ", ".join(
        f"{name} {seconds / count * 1000:.2f} ms"
        for name, seconds in run.cpu.items()
        if name != "machine"
    )
    ours = sum(seconds for name, seconds in run.cpu.items() if name != "machine")
    print(
        f"  CPU per event: {per_event}; machine busy "
        f"{run.cpu['machine'] / run.seconds:.1f} of {os.cpu_count()} cores, of which "
        f"{max(0.0, run.cpu['machine'] - ours) / run.seconds:.2f} not ours (other processes, "
        f"kernel); load average before {args.load_before:.2f}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--processes", type=int, default=1, help="`gateway web` processes")
    parser.add_argument("--client", choices=("httpx", "raw"), default="httpx")
    parser.add_argument("--server-log", type=Path, help="append the web processes' logs here")
    parser.add_argument(
        "--profile",
        type=Path,
        help="run each web process under cProfile, writing PROFILE.<n> (slows it down)",
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
