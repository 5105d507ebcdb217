"""Benchmark (a): ingest events/s, latency and CPU per event at concurrency 32, beside pgbench's
single-row insert and the floor (`../shared/bench/ingest_floor.py`: a bare ASGI app that
checks the signature and stores the raw body, one INSERT per request or group-committed), all
on one Postgres and one database, interleaved in rounds so that other work on the machine
weighs on each alike.

Run from the project root with Postgres and Redis up (`DATABASE_URL`, `REDIS_URL` as usual;
defaults are the local ones):

    .venv/bin/python -m bench.ingest                       # 3 rounds of 6000 events each
    .venv/bin/python -m bench.ingest --processes 1 2 4     # gateway with 1, 2 and 4 processes
    .venv/bin/python -m bench.ingest --floor PATH          # the floor's file, if elsewhere

Targets: the gateway ≥ 0.8 × the group-commit floor and ≥ 0.35 × pgbench, p99 < 50 ms, with one
and with two web processes, two not slower than one. Each round runs, one after the other:
pgbench (`-t` so it inserts as many rows), the floor in both modes, the floor that also parses
and checks each event as the ingest contract requires before it answers ("floor parsed",
`floor_parsed.py`: what that promise alone costs), and the gateway with each number of
processes, each posting the same kind of event.

What runs: a fresh database (created, migrated, dropped at the end) and an empty Redis database
(flushed at the end); `gateway web` itself (this checkout's code), real uvicorn on loopback, as
deployed; the floor under the same uvicorn (uvloop, httptools). Every gateway event is an
`order.paid` for a new order of a shop whose trigger is `paid`: the full path (verify, parse,
VAT check, delivery + order + invoice rows, the answer stored, an arq job enqueued). There are
enough shops for each to stay under the enqueue budget, so every event also pays for its
enqueue. A warm-up (not counted) fills the connection pools and every process's shop cache,
and the database is analyzed after it, as autovacuum would have by then on a running one.

Everything shares this machine's CPUs, the load generator included. So the CPU each part used
per event is printed too (web, Postgres backends of this database, load generator, Redis),
and how busy the machine was: a run disturbed by other work can be told apart.
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
ROOT = Path(__file__).resolve().parents[1]
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
    # This checkout's code, whichever checkout the venv's `gateway` was installed from.
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))}
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


# --- the floor ---------------------------------------------------------------------------------

FLOOR_MODES = ("single", "batched", "parsed")


@contextlib.contextmanager
def floor_server(
    floor: Path, database_url: str, secrets_file: Path, mode: str
) -> Iterator[tuple[int, int]]:
    """The floor (`ingest_floor.py`) in `mode`, under uvicorn as `gateway web` runs (uvloop,
    httptools, no access log); yields its (port, pid). Mode `parsed` is the batched floor
    behind `floor_parsed.py`, which parses and checks each event first."""
    port = _free_port()
    app = floor
    env = {**os.environ, "DATABASE_URL": database_url, "SECRETS": str(secrets_file), "MODE": mode}
    if mode == "parsed":
        app = Path(__file__).resolve().parent / "floor_parsed.py"
        env |= {"MODE": "batched", "FLOOR": str(floor)}
    command = [
        sys.executable,
        *("-m", "uvicorn", "--loop", "uvloop", "--http", "httptools", "--no-access-log"),
        *("--host", "127.0.0.1", "--port", str(port), "--app-dir", str(app.parent)),
        f"{app.stem}:app",
    ]
    with open(os.devnull, "wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=output)
        try:
            _wait_ready(port)
            yield port, process.pid
        finally:
            process.terminate()
            process.wait(timeout=20)


# --- pgbench -----------------------------------------------------------------------------------


def _backends(database: str) -> dict[int, float]:
    """CPU seconds so far of each Postgres backend of `database`, by pid."""
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            stat = (proc / "stat").read_text()
            if stat[stat.index("(") + 1 : stat.rindex(")")] != "postgres":
                continue
            if f" {database} " in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found[int(proc.name)] = _cpu_of(stat)
    return found


def pgbench(database_url: str, database: str, events: int, concurrency: int) -> Run:
    """pgbench's single-row insert, `events` in all over `concurrency` clients. Its backends
    end with it, so their CPU is sampled while it runs."""
    binary = shutil.which("pgbench")
    if binary is None:
        raise FileNotFoundError("pgbench")
    parts = urlsplit(database_url)
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "insert.sql"
        script.write_text("INSERT INTO bench_insert (payload) VALUES ('{\"order\": 1}');\n")
        command = [
            binary,
            "-n",  # no vacuum of pgbench's own tables, which we do not use
            *("-c", str(concurrency), "-j", str(min(concurrency, os.cpu_count() or 1))),
            *("-t", str(max(1, events // concurrency)), "-f", str(script)),
            *("-l", "--log-prefix", f"{folder}/log"),
            *("-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)),
            *("-U", parts.username or "postgres", parts.path.lstrip("/")),
        ]
        before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        before_machine = Cpu([]).sample().parts["machine"]
        baseline = _backends(database)
        seen = dict(baseline)
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PGPASSWORD": parts.password or ""},
        )
        while process.poll() is None:
            seen.update(_backends(database))
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        out, err = process.communicate()
        output = out.decode()
        if process.returncode != 0:
            raise SystemExit(f"pgbench failed:\n{output}{err.decode()}")
        after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        machine = Cpu([]).sample().parts["machine"] - before_machine
        latencies = [
            int(line.split()[2]) / 1000
            for log in Path(folder).glob("log.*")
            for line in log.read_text().splitlines()
        ]
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", output)
    if match is None:
        raise SystemExit(f"could not read pgbench's output:\n{output}")
    # Its own measure of throughput (connections made before its clock starts).
    seconds = len(latencies) / float(match.group(1)) if latencies else seconds
    postgres = sum(cpu - baseline.get(pid, 0.0) for pid, cpu in seen.items())
    generator = (after_children.ru_utime + after_children.ru_stime) - (
        before_children.ru_utime + before_children.ru_stime
    )
    cpu = {"web": 0.0, "load generator": generator, "Postgres": postgres, "Redis": 0.0}
    return Run(seconds, latencies, {0: len(latencies)}, {**cpu, "machine": machine})


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Contender:
    name: str
    servers: list[tuple[int, int]]  # (port, pid); none for pgbench
    runs: list[Run] = field(default_factory=list)


class EventSource:
    """Signed `order.paid` events for new orders, each shop getting at most `per_shop`."""

    def __init__(self, shop_secrets: list[tuple[str, Secret]]) -> None:
        self.shop_secrets = shop_secrets
        self.made = 0

    def take(self, count: int, shops: list[tuple[str, Secret]] | None = None) -> list[Signed]:
        chosen = shops or self.shop_secrets
        now = int(time.time())
        signed = []
        for _ in range(count):
            shop_id, secret = chosen[self.made % len(chosen)]
            n = self.made
            self.made += 1
            body = copy.deepcopy(EXAMPLE_EVENT)
            body["id"] = f"evt-{n}"
            body["order"]["id"] = body["order"]["number"] = f"order-{n}"
            raw = json.dumps(body).encode()
            signed.append(Signed(f"/api/v1/shops/{shop_id}/events", raw, sign(secret, now, raw)))
        return signed


async def main(args: argparse.Namespace) -> None:
    # Other work on the machine takes CPU from every part: say how busy it was.
    args.load_before = os.getloadavg()[0]
    if shutil.which("pgbench") is None:
        raise SystemExit("pgbench is not installed here (apt-get install postgresql-client)")
    if not args.floor.exists():
        raise SystemExit(f"the floor {args.floor} is missing: pass --floor")
    server = with_path(
        os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres",
        "/postgres",
    )
    sizes = sorted(set(args.processes))
    with (
        empty_redis(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0") as redis_url,
        tempfile.TemporaryDirectory() as folder,
    ):
        async with fresh_database(server) as database_url:
            database = urlsplit(database_url).path.lstrip("/")
            env = {
                **os.environ,
                "GATEWAY_ENV": "development",
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "GATEWAY_LOG_LEVEL": "INFO",
            }
            settings = Settings.from_env(env)
            # Each shop stays below the enqueue budget, so every event is enqueued directly.
            # Events go to the shops in turn, warm-ups' and the floors' too: a margin.
            gateway_events = args.rounds * len(sizes) * (args.events + 64 * max(sizes))
            shop_count = math.ceil(gateway_events / (ENQUEUE_AHEAD - 5))
            shop_secrets = await make_shops(database_url, Vault(settings.token_keys), shop_count)
            secrets_file = Path(folder) / "secrets.json"
            secrets_file.write_text(json.dumps({i: s.reveal() for i, s in shop_secrets}))
            conn = await connect(database_url, application_name="bench")
            try:
                await conn.execute(
                    "CREATE TABLE bench_insert (id bigint GENERATED ALWAYS AS IDENTITY "
                    "PRIMARY KEY, payload jsonb NOT NULL, created_at timestamptz NOT NULL "
                    "DEFAULT now())"
                )
            finally:
                await conn.close()
            source = EventSource(shop_secrets)
            # Each contender's servers run only for its own runs: with every one of them up
            # at once, their idle connections and pgbench's 32 pass a shared server's
            # max_connections.
            contenders = [Contender("pgbench", [])]
            # The parsed floor last in each round: the gateway's runs follow the two floors
            # as they always have, so their figures compare with earlier ones.
            contenders += [Contender(f"floor {mode}", []) for mode in FLOOR_MODES[:2]]
            contenders += [Contender(f"gateway ×{size}", []) for size in sizes]
            contenders += [Contender(f"floor {mode}", []) for mode in FLOOR_MODES[2:]]
            for round_ in range(1, args.rounds + 1):
                for contender in contenders:
                    if contender.name == "pgbench":
                        run = pgbench(database_url, database, args.events, args.concurrency)
                    else:
                        with contextlib.ExitStack() as stack:
                            if contender.name.startswith("floor"):
                                mode = contender.name.split()[1]
                                servers = [
                                    stack.enter_context(
                                        floor_server(args.floor, database_url, secrets_file, mode)
                                    )
                                ]
                                await post_all(servers, source.take(WARM_UP), 8, args.client)
                            else:
                                size = int(contender.name.rpartition("×")[2])
                                servers = stack.enter_context(
                                    web_servers(env, size, args.server_log)
                                )
                                await warm_up_gateway(servers, source, shop_secrets, args.client)
                                await analyze(database_url)
                            run = await post_all(
                                servers,
                                source.take(args.events),
                                args.concurrency,
                                args.client,
                                database,
                            )
                    contender.runs.append(run)
                    report_run(contender.name, round_, run)
            conn = await connect(database_url, application_name="bench")
            try:
                documents = await conn.fetchval("SELECT count(*) FROM documents")
                orders = await conn.fetchval("SELECT count(*) FROM orders")
            finally:
                await conn.close()
            jobs = cast(int, sync_redis.Redis.from_url(redis_url).zcard(QUEUE_NAME))
    report(args, contenders, documents=documents, orders=orders, jobs=jobs)


async def warm_up_gateway(
    servers: list[tuple[int, int]],
    source: EventSource,
    shop_secrets: list[tuple[str, Secret]],
    client: str,
) -> None:
    """Not counted: fills each process's pools and its cache of shops. A request with a
    wrong signature caches its shop too (it is read to check the signature), and stores
    nothing."""
    for server in servers:
        await post_all([server], source.take(64), 8, client)
        wrong = f"t={int(time.time())},v1={'0' * 64}"
        await post_all(
            [server],
            [
                Signed(f"/api/v1/shops/{shop_id}/events", b"{}", wrong)
                for shop_id, _ in shop_secrets
            ],
            8,
            client,
        )


async def analyze(database_url: str) -> None:
    """Statistics as a database that has run for a minute has them (autovacuum analyzes a
    table once enough of it changed, checking every minute): in a new database's first minute
    Postgres plans as if `documents` were empty, and may then count a shop's queued documents
    through the index of every shop's."""
    conn = await connect(database_url, application_name="bench")
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def report_run(name: str, round_: int, run: Run) -> None:
    count = len(run.latencies_ms)
    per_event = ", ".join(
        f"{part} {run.cpu[part] / count * 1000:.2f}"
        for part in ("web", "Postgres", "load generator", "Redis")
    )
    print(
        f"round {round_} {name:<12} {run.rate:7,.0f} events/s  p50 {run.percentile(50):5.1f} ms"
        f"  p99 {run.percentile(99):5.1f} ms  statuses {run.statuses}  CPU ms/event: "
        f"{per_event}; machine busy {run.cpu['machine'] / run.seconds:.1f} cores",
        flush=True,
    )


def report(args: argparse.Namespace, contenders: list[Contender], **counts: int) -> None:
    by_name = {c.name: c for c in contenders}
    print(
        f"\n{args.rounds} round(s) of {args.events} events at concurrency {args.concurrency}, "
        f"interleaved, client {args.client}, load average before {args.load_before:.2f}; "
        f"in the database afterwards: {counts} (warm-up included)"
    )
    print("medians over the rounds:")
    for contender in contenders:
        runs = contender.runs
        count = len(runs[0].latencies_ms)
        print(
            f"  {contender.name:<12} {statistics.median(r.rate for r in runs):7,.0f} events/s"
            f"  p50 {statistics.median(r.percentile(50) for r in runs):5.1f} ms"
            f"  p99 {statistics.median(r.percentile(99) for r in runs):5.1f} ms"
            f"  CPU per event: web {_median_ms(runs, 'web', count)} ms, "
            f"Postgres {_median_ms(runs, 'Postgres', count)} ms"
        )
    pg, floor = by_name["pgbench"], by_name["floor batched"]
    single = by_name["floor single"]
    print("ratios (per round, each against the same round's runs):")
    sizes = [c for c in contenders if c.name.startswith("gateway")]
    verdicts = []
    for gateway in sizes:
        to_floor = [g.rate / f.rate for g, f in zip(gateway.runs, floor.runs, strict=True)]
        to_single = [g.rate / f.rate for g, f in zip(gateway.runs, single.runs, strict=True)]
        to_pg = [g.rate / p.rate for g, p in zip(gateway.runs, pg.runs, strict=True)]
        p99 = [g.percentile(99) for g in gateway.runs]
        print(
            f"  {gateway.name}: ÷ group-commit floor {_list(to_floor)} (target ≥ 0.8); "
            f"÷ one-insert floor {_list(to_single)}; ÷ pgbench {_list(to_pg)} "
            f"(target ≥ 0.35); p99 {_list(p99, 1)} ms (target < 50)"
        )
        verdicts += [
            (f"{gateway.name} ≥ 0.8× group-commit floor", min(to_floor) >= 0.8),
            (f"{gateway.name} ≥ 0.35× pgbench", min(to_pg) >= 0.35),
            (f"{gateway.name} p99 < 50 ms", max(p99) < 50),
        ]
    floor_to_pg = [f.rate / p.rate for f, p in zip(floor.runs, pg.runs, strict=True)]
    print(f"  floor batched ÷ pgbench {_list(floor_to_pg)}")
    parsed = by_name["floor parsed"]
    parsed_to_floor = [p.rate / f.rate for p, f in zip(parsed.runs, floor.runs, strict=True)]
    print(
        f"  floor parsed ÷ group-commit floor {_list(parsed_to_floor)} (the contract's parse "
        "and checks alone)"
    )
    for gateway in sizes:
        to_parsed = [g.rate / p.rate for g, p in zip(gateway.runs, parsed.runs, strict=True)]
        print(f"  {gateway.name} ÷ floor parsed {_list(to_parsed)}")
    if len(sizes) > 1:
        one, two = sizes[0], sizes[-1]
        faster = [b.rate / a.rate for a, b in zip(one.runs, two.runs, strict=True)]
        print(f"  {two.name} ÷ {one.name} {_list(faster)} (target ≥ 1)")
        verdicts.append((f"{two.name} not slower than {one.name}", min(faster) >= 1.0))
    for what, met in verdicts:
        print(f"{'met    ' if met else 'MISSED '} {what} (every round)")


def _median_ms(runs: list[Run], part: str, count: int) -> str:
    return f"{statistics.median(r.cpu[part] for r in runs) / count * 1000:.2f}"


def _list(values: list[float], digits: int = 2) -> str:
    return "[" + ", ".join(f"{v:.{digits}f}" for v in values) + "]"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=6000, help="per run of each contender")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--processes", type=int, nargs="+", default=[1, 2], help="`gateway web` processes"
    )
    parser.add_argument("--client", choices=("httpx", "raw"), default="raw")
    parser.add_argument(
        "--floor",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared" / "bench" / "ingest_floor.py",
        help="the floor's ASGI app (default ../shared/bench/ingest_floor.py)",
    )
    parser.add_argument("--server-log", type=Path, help="append the web processes' logs here")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
