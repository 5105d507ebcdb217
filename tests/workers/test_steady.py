"""`gateway worker` through outages: the pieces of `workers.steady` with Redis unreachable,
and the private Redis and Postgres servers, worker process and waits that
`tests/test_outages_end_to_end.py` runs real web and worker processes with."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gateway import services_postgres
from gateway.db import create_pool
from gateway.localservices import _initdb, free_port
from gateway.migrate import migrate
from gateway.outages import CONNECTION_ERRORS, Outage
from gateway.processes import stop
from gateway.queue import create_redis
from gateway.services_launcher import Launcher, wait_until
from gateway.settings import Settings
from tests.live import LiveSandbox
from workers.settings import build_worker
from workers.steady import outage_tolerant

log = logging.getLogger(__name__)

REDIS_SERVER = shutil.which("redis-server")
STALLED_AFTER = 60.0  # a wait fails only when nothing has moved for this long

PATH = os.environ.get("PATH", os.defpath)

needs_redis_server = pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server")
CLOSED = "redis://127.0.0.1:1/0"  # port 1 on loopback refuses connections


# --- the pieces, with Redis unreachable ------------------------------------------------------


async def test_a_claim_that_redis_fails_gives_its_job_slot_back(settings: Settings) -> None:
    worker = build_worker(settings, handle_signals=False)
    worker._pool = create_redis(CLOSED)
    try:
        for _ in range(worker.max_jobs + 1):
            with pytest.raises(CONNECTION_ERRORS):
                await worker.start_jobs([b"documents.post:1:0"])
        assert worker.job_counter == 0
        # Every slot still free: arq alone would have none left after max_jobs failures.
        assert worker.sem._value == worker.max_jobs + 1
    finally:
        await worker._pool.aclose()


async def test_the_poll_loop_waits_out_redis_and_logs_once(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    worker = build_worker(settings, handle_signals=False)
    worker._pool = create_redis(CLOSED)
    worker.outage = Outage(logging.getLogger("workers.steady"), who="the worker", first=0.01)
    try:
        with caplog.at_level(logging.WARNING, logger="workers.steady"):
            for _ in range(3):
                await worker._poll_iteration()  # returns: the error is waited out, not raised
    finally:
        await worker._pool.aclose()
    assert worker.outage.tries == 3
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "Redis unavailable to the worker"
    ]


async def test_start_up_waits_for_redis(settings: Settings) -> None:
    worker = build_worker(replace(settings, redis_url=CLOSED), handle_signals=False)
    worker.outage = Outage(logging.getLogger("workers.steady"), who="the worker", first=0.01)
    task = asyncio.create_task(worker.main())
    try:
        while worker.outage.tries < 3:
            assert not task.done(), task.exception()
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert "pool" not in worker.ctx  # on_startup waits for Redis too


async def test_closing_without_redis_still_closes_the_postgres_pool(settings: Settings) -> None:
    worker = build_worker(settings, handle_signals=False)
    worker._pool = create_redis(CLOSED)
    worker.ctx["redis"] = worker._pool
    worker.ctx["pool"] = pool = await create_pool(settings.database_url, application_name="t")
    await worker.close()
    assert pool.is_closing()


async def test_a_job_that_meets_an_outage_ends_quietly(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    async def job(ctx: dict[str, Any], outcome: str) -> str:
        calls.append(outcome)
        if outcome == "down":
            raise ConnectionRefusedError(111, "Connect call failed")
        if outcome == "bug":
            raise ValueError("a bug")
        return outcome

    tolerant = outage_tolerant(job)
    ctx = {"outage": Outage(logging.getLogger("workers.jobs"), who="jobs")}
    with caplog.at_level(logging.WARNING, logger="workers.jobs"):
        assert await tolerant(ctx, "down") is None
        assert await tolerant(ctx, "down") is None
        assert await tolerant(ctx, "ok") == "ok"
        with pytest.raises(ValueError, match="a bug"):  # not an outage: arq records it
            await tolerant(ctx, "bug")
    assert calls == ["down", "down", "ok", "bug"]
    assert [r.getMessage().split(" ")[:3] for r in caplog.records] == [
        ["Postgres", "unavailable", "to"],
        ["Postgres", "is", "back"],
    ]
    with pytest.raises(ConnectionRefusedError):  # outside a worker (no ctx["outage"]): raised
        await tolerant({}, "down")


class PrivateRedis:
    """A redis-server of this test's own, on a free port, that it may stop and start again
    (without persistence: it comes back empty, as a restarted cache would)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.ephemeral = ["--save", "", "--appendonly", "no", "--dir", str(workdir)]

    def start(self) -> None:
        assert REDIS_SERVER is not None
        with (self.workdir / "redis.log").open("ab") as out:
            self.proc = subprocess.Popen(
                [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port), *self.ephemeral],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while not self._answers():
            assert self.proc.poll() is None, (self.workdir / "redis.log").read_text()
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def _answers(self) -> bool:
        import redis as sync_redis

        client = sync_redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except sync_redis.exceptions.ConnectionError:
            return False
        finally:
            client.close()


# --- a real worker process through outages ---------------------------------------------------


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class PrivatePostgres:
    """A Postgres server of this test's own, on a free port, that it may stop and start again
    (its data kept in between, as a restarted database server's would be)."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self.launcher = Launcher(
            stack=stack, project=Path.cwd(), purpose="test", environ={"PATH": PATH}, log=log.info
        )
        self.bindir = services_postgres.bindirs(PATH)[0]
        self.account = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        path, self.logpath = self.launcher.server_dir("postgres", self.account)
        self.datadir = path / "data"
        _initdb(self.launcher, self.bindir / "initdb", self.datadir, self.account, self.logpath)
        self.port = free_port()
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/gateway"
        self.proc: subprocess.Popen[bytes] | None = None
        stack.callback(self.stop)

    def start(self) -> None:
        cmd = [self.bindir / "postgres", "-D", self.datadir, "-p", self.port]
        cmd += ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="]
        cmd += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
        self.proc = self.launcher.spawn(cmd, self.logpath, self.account, signal.SIGINT)
        proc = self.proc
        wait_until(
            lambda: services_postgres.accepts(self.admin_url), proc, "postgres", self.logpath
        )

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, sig=signal.SIGINT)  # a fast shutdown: sessions are cut off
            self.proc = None


@pytest.fixture
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    if not services_postgres.bindirs(PATH):
        pytest.skip("needs the Postgres server binaries")
    with contextlib.ExitStack() as stack:
        server = PrivatePostgres(stack)
        await asyncio.to_thread(server.start)
        services_postgres.create_database(server.admin_url, "gateway")
        await migrate(server.url)
        yield server


def gateway_env(settings: Settings, redis_url: str, live: LiveSandbox) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "GATEWAY_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": redis_url,
        "DINERO_API_URL": live.url,
        "DINERO_AUTH_URL": live.url,
    }


@contextlib.contextmanager
def worker_process(env: dict[str, str], logpath: Path) -> Iterator[subprocess.Popen[bytes]]:
    with logpath.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        stop(proc)


async def wait_for(
    check: Callable[[], Awaitable[bool]],
    *,
    progress: Callable[[], Awaitable[Any]],
    worker: subprocess.Popen[bytes],
    logpath: Path,
    what: str,
) -> None:
    """Waits until `check` holds; fails when the worker exits, or when `progress` stays the
    same for `STALLED_AFTER` seconds (so a slow machine is slow, never a failure)."""
    seen, since = await progress(), time.monotonic()
    while not await check():
        assert worker.poll() is None, f"the worker exited waiting for {what}:\n{tail(logpath)}"
        now = await progress()
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since > STALLED_AFTER:
            raise AssertionError(f"nothing moved waiting for {what}:\n{tail(logpath)}")
        await asyncio.sleep(0.1)


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


async def check_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`gateway worker --check`, in a thread: the sandbox serves from this event loop."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli.main", "worker", "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
