"""gateway.localservices: found servers are used as they are, started ones are gone afterwards.

Nothing here touches the servers a machine already runs: probes point at a closed port (or
are switched off), so every server these tests talk to is one they started themselves.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio

from gateway import services_postgres
from gateway.localservices import _SignalRelay, ensure_services, free_port, main
from gateway.services_launcher import Interrupted, Launcher

PATH = os.environ.get("PATH", os.defpath)
ENVIRON = {"PATH": PATH}  # no DATABASE_URL/REDIS_URL, even when `make test` sets them for us

needs_servers = pytest.mark.skipif(
    os.geteuid() != 0
    and not (services_postgres.bindirs(PATH) and shutil.which("redis-server", path=PATH)),
    reason="needs Postgres and Redis binaries (or root, to install them)",
)


def _closed_port() -> tuple[str, int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return ("127.0.0.1", sock.getsockname()[1])  # nothing listens once it is closed


def _port(url: str) -> int:
    match = re.search(r":(\d+)/", url)
    assert match, url
    return int(match.group(1))


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and text.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            pass  # gone meanwhile
    return found


def _assert_stopped(urls: list[str], lines: list[str]) -> None:
    for url in urls:
        assert not _accepts(_port(url)), url
        assert _processes_mentioning(f"-p\0{_port(url)}\0") == []  # postgres
        assert _processes_mentioning(f"127.0.0.1:{_port(url)}") == []  # redis' process title
    for line in lines:
        if match := re.search(r"\(data in (.+)\)$", line):
            assert _processes_mentioning(match.group(1)) == []


def _is_empty(path: Path) -> bool:
    return not path.exists() or not any(path.iterdir())


def test_free_port_prefers_the_port_asked_for_while_it_is_free() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = free_port("127.0.0.1", port)
        assert other != port
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", other))  # it is free
    assert free_port("127.0.0.1", port) == port
    assert free_port() > 0


def test_free_port_counts_a_port_in_time_wait_as_free() -> None:
    # What a second `make dev` right after Ctrl-C finds: the last server's port in TIME_WAIT.
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first, so its port goes to TIME_WAIT
        client.recv(1)
        client.close()
    assert free_port("127.0.0.1", port) == port


@pytest.mark.parametrize("sudo_asks", [False, True])
def test_apt_install_uses_sudo_only_when_it_needs_no_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sudo_asks: bool
) -> None:
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    scripts = {
        # Like `sudo -n`: fail rather than ask; else run the command with VAR=value set.
        "sudo": f'echo "sudo $*" >>{calls}\n[ "$1" = -n ] || exit 99\nshift\n'
        f'[ "$1" = true ] && exit {int(sudo_asks)}\nexec env "$@"',
        "apt-get": f'echo "apt-get $* ($DEBIAN_FRONTEND)" >>{calls}',
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    lines: list[str] = []
    environ = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    with contextlib.ExitStack() as stack:
        launcher = Launcher(stack, tmp_path, "dev", environ, lines.append)
        installed = launcher.apt_install("redis-server")
    apt = bin_dir / "apt-get"
    if sudo_asks:  # not ours to do
        assert not installed and lines == []
        assert calls.read_text().splitlines() == ["sudo -n true"]
    else:
        assert installed
        assert lines == ["redis-server: not installed; installing it with sudo apt-get"]
        assert calls.read_text().splitlines() == [
            "sudo -n true",
            f"sudo -n DEBIAN_FRONTEND=noninteractive {apt} update",
            "apt-get update (noninteractive)",
            f"sudo -n DEBIAN_FRONTEND=noninteractive {apt} install -y --no-install-recommends "
            "redis-server",
            "apt-get install -y --no-install-recommends redis-server (noninteractive)",
        ]


def test_urls_in_the_environment_are_used_verbatim(tmp_path: Path) -> None:
    environ = {"DATABASE_URL": "postgresql://u@db.invalid/x", "REDIS_URL": "redis://r.invalid/4"}
    lines: list[str] = []
    with ensure_services(tmp_path, purpose="dev", environ=environ, log=lines.append) as found:
        assert found.database_url == "postgresql://u@db.invalid/x"
        assert found.redis_url == "redis://r.invalid/4"
    assert lines == ["postgres: using DATABASE_URL", "redis: using REDIS_URL"]
    assert _is_empty(tmp_path)  # nothing started, nothing written


@needs_servers
async def test_starts_private_servers_reuses_running_ones_and_stops_only_its_own(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    closed = _closed_port()
    with ensure_services(
        tmp_path,
        purpose="test",
        environ=ENVIRON,
        probe_postgres=closed,
        probe_redis=closed,
        log=lines.append,
    ) as own:
        assert own.database_url.endswith("/postgres")
        conn = await asyncpg.connect(own.database_url)
        try:
            assert await conn.fetchval("SHOW fsync") == "off"  # a throwaway test cluster
        finally:
            await conn.close()
        client = redis.asyncio.Redis.from_url(own.redis_url)
        try:
            assert await client.ping()
        finally:
            await client.aclose()

        # A second call finds those servers running: it uses them and must not stop them.
        pg, rd = ("127.0.0.1", _port(own.database_url)), ("127.0.0.1", _port(own.redis_url))
        inner: list[str] = []
        with ensure_services(
            tmp_path,
            purpose="dev",
            environ=ENVIRON,
            probe_postgres=pg,
            probe_redis=rd,
            log=inner.append,
        ) as reused:
            assert reused.database_url == own.database_url.rsplit("/", 1)[0] + "/gateway_dev"
            assert reused.redis_url == own.redis_url
        assert inner == [f"postgres: using 127.0.0.1:{pg[1]}", f"redis: using 127.0.0.1:{rd[1]}"]
        assert _accepts(pg[1]) and _accepts(rd[1])
        conn = await asyncpg.connect(reused.database_url)  # gateway_dev was created
        await conn.close()

    assert re.fullmatch(r"postgres: started [\d.]+ on 127\.0\.0\.1:\d+ \(data in .+\)", lines[0])
    assert re.fullmatch(r"redis: started on 127\.0\.0\.1:\d+", lines[1])
    assert lines[2:] == ["redis: stopped", "postgres: stopped"]  # in reverse order
    _assert_stopped([own.database_url, own.redis_url], lines)
    assert _is_empty(tmp_path)  # test data lives in temporary dirs...
    datadir = re.search(r"\(data in (.+)\)$", lines[0])
    assert datadir and _is_empty(Path(datadir.group(1)).parent)  # ...now removed


@needs_servers
async def test_dev_data_persists_between_runs(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    # pytest's base temp dir is private (0700): as root that sends Postgres' data elsewhere.
    fallback = Path("/var/lib/gateway-dev") / hashlib.sha256(str(project).encode()).hexdigest()[:12]
    modes = {p: p.stat().st_mode for p in project.parents}
    closed = _closed_port()
    lines: list[str] = []
    try:
        for run in range(2):
            with ensure_services(
                project,
                purpose="dev",
                environ=ENVIRON,
                probe_postgres=closed,
                probe_redis=closed,
                log=lines.append,
            ) as found:
                assert found.database_url.endswith("/gateway_dev")
                conn = await asyncpg.connect(found.database_url)
                try:
                    if run == 0:
                        await conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (1)")
                    assert await conn.fetchval("SELECT count(*) FROM kept") == 1
                finally:
                    await conn.close()
            _assert_stopped([found.database_url, found.redis_url], lines)
        assert (project / ".dev" / "redis").is_dir()
        if os.geteuid() == 0:
            assert (fallback / "postgres" / "PG_VERSION").is_file()
            assert any("cannot enter" in line for line in lines)
            assert {p: p.stat().st_mode for p in project.parents} == modes  # nothing loosened
        else:
            assert (project / ".dev" / "postgres" / "PG_VERSION").is_file()
    finally:
        shutil.rmtree(fallback, ignore_errors=True)
        with contextlib.suppress(OSError):
            fallback.parent.rmdir()  # only if no one else keeps data there


def test_main_runs_the_command_with_the_urls_and_returns_its_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.invalid/x")
    monkeypatch.setenv("REDIS_URL", "redis://r.invalid/4")
    script = 'test "$DATABASE_URL $REDIS_URL" = "postgresql://u@db.invalid/x redis://r.invalid/4"'
    assert main(["--purpose", "test", "--", "sh", "-c", f"{script} && exit 3"]) == 3
    assert main(["--purpose", "test", "--", "/nonexistent/command"]) == 127


def test_a_signal_while_the_command_starts_reaches_it_once_it_has(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The signal comes after the fork, before `run` has the child: in logging's at-fork hook,
    # say, where a raised Interrupted would be printed and dropped, and the command then run
    # to its end (here, a minute) with nobody to stop it.
    relay = _SignalRelay()
    started = subprocess.Popen

    def popen_then_signal(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        child = started(*args, **kwargs)
        relay.handle(signal.SIGTERM, None)
        return child

    monkeypatch.setattr(subprocess, "Popen", popen_then_signal)
    assert relay.run(["sleep", "60"], dict(os.environ)) == 128 + signal.SIGTERM


def test_a_signal_whose_interrupt_was_dropped_still_stops_start_up() -> None:
    relay = _SignalRelay()
    with contextlib.suppress(Interrupted):  # as an at-fork hook drops it
        relay.handle(signal.SIGTERM, None)
    with pytest.raises(Interrupted) as raised:
        relay.run(["sh", "-c", "exit 0"], dict(os.environ))
    assert raised.value.signum == signal.SIGTERM
    assert relay.child is None  # the command never ran


@needs_servers
@pytest.mark.parametrize("how", ["SIGTERM to the process", "SIGINT to the process group"])
def test_main_stops_its_servers_when_signalled(how: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    command = [sys.executable, "-m", "gateway.localservices", "--purpose", "test", "--start-own"]
    command += ["--", "sh", "-c", 'echo "$DATABASE_URL $REDIS_URL"; exec sleep 60']
    # A session of its own, without a terminal: like a CI job the runner cancels.
    proc = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        urls = proc.stdout.readline().split()
        assert len(urls) == 2, proc.communicate()
        if how.startswith("SIGTERM"):
            proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # The command died of the signal, passed on once; the servers were stopped in order.
    assert proc.returncode == 128 + (15 if how.startswith("SIGTERM") else 2), stderr
    assert stderr.splitlines()[-2:] == ["redis: stopped", "postgres: stopped"], stderr
    _assert_stopped(urls, stderr.splitlines())
