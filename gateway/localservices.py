"""Find or start the Postgres and Redis that `make dev` and `make test` need.

Per service, in order: a URL in the environment, a server already answering on the usual local
port, or a private server started here (installing the Debian package first if it is missing and
we are root, or have a sudo that needs no password). Private servers live exactly as long as the
`ensure_services` block; servers we found running are never touched. How a private server is
run is in `services_launcher`, what there is to know about Postgres in `services_postgres`.

    python -m gateway.localservices --purpose test -- pytest
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import asyncpg

from gateway import services_postgres
from gateway.processes import parent_death_signal, stop
from gateway.services_launcher import (
    Account,
    Interrupted,
    Launcher,
    Log,
    Purpose,
    ServiceError,
    tail,
    wait_until,
)

Address = tuple[str, int]

POSTGRES_DEFAULT: Address = ("127.0.0.1", 5432)
REDIS_DEFAULT: Address = ("127.0.0.1", 6379)
DEV_DATABASE = "gateway_dev"


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def ensure_services(
    project_dir: Path,
    *,
    purpose: Purpose,
    environ: Mapping[str, str],
    probe_postgres: Address | None = POSTGRES_DEFAULT,
    probe_redis: Address | None = REDIS_DEFAULT,
    log: Log = _stderr,
) -> Iterator[Services]:
    """Yield URLs of a usable Postgres and Redis; on exit stop whatever was started here.

    For "dev" the database URL names `gateway_dev` (created if missing); for "test" it names the
    admin database `postgres`, from which test fixtures create their own databases. A probe of
    None skips looking for a running server and always starts a private one.
    """
    with contextlib.ExitStack() as stack:  # callbacks run in reverse: Redis stops before Postgres
        launcher = Launcher(stack, project_dir.resolve(), purpose, environ, log)
        database_url = _postgres(launcher, probe_postgres)
        yield Services(database_url=database_url, redis_url=_redis(launcher, probe_redis))


# --- Postgres ----------------------------------------------------------------------------------


def _postgres(launcher: Launcher, probe: Address | None) -> str:
    if launcher.environ.get("DATABASE_URL"):
        launcher.log("postgres: using DATABASE_URL")
        return launcher.environ["DATABASE_URL"]
    url = None
    if probe is not None and _tcp_open(probe):
        users = dict.fromkeys(["postgres", pwd.getpwuid(os.getuid()).pw_name])
        urls = [f"postgresql://{user}@{probe[0]}:{probe[1]}/postgres" for user in users]
        url = next((u for u in urls if services_postgres.accepts(u)), None)
        how = "using" if url else "cannot log in to"  # e.g. it wants a password
        launcher.log(f"postgres: {how} {probe[0]}:{probe[1]}")
    url = url or _start_postgres(launcher)
    if launcher.purpose == "test":
        return url
    try:
        services_postgres.create_database(url, DEV_DATABASE)
    except asyncpg.PostgresError as exc:
        raise ServiceError(f"cannot create {DEV_DATABASE}: {exc}; set DATABASE_URL") from exc
    return f"{url.rsplit('/', 1)[0]}/{DEV_DATABASE}"


def _start_postgres(launcher: Launcher) -> str:
    bindirs = services_postgres.bindirs(launcher.path())
    if not bindirs and launcher.apt_install("postgresql"):
        bindirs = services_postgres.bindirs(launcher.path())
    if not bindirs:
        raise ServiceError("no PostgreSQL server found: install postgresql or set DATABASE_URL")
    # Postgres refuses to run as root, so root runs it as the user the Debian package makes.
    account = None
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            raise ServiceError("running as root needs a 'postgres' user for Postgres") from None
    datadir, logpath = launcher.server_dir("postgres", account)
    if launcher.purpose == "test":
        datadir = datadir / "data"  # initdb wants to create it, or find it empty
    # A data dir opens only with the major version that created it.
    version_file = datadir / "PG_VERSION"
    made_by = version_file.read_text().strip() if version_file.is_file() else None
    versions = {d: services_postgres.version(d) for d in bindirs}
    bindir = next((d for d in bindirs if made_by in (None, versions[d].split(".")[0])), None)
    if bindir is None:
        raise ServiceError(f"{datadir} needs PostgreSQL {made_by}; install it or remove that")
    if made_by is None:
        _initdb(launcher, bindir / "initdb", datadir, account, logpath)
    else:
        services_postgres.stop_leftover_postmaster(datadir, launcher.log)
    port = free_port()
    # No Unix socket: clients use TCP, and socket paths are limited to ~107 bytes.
    cmd = [bindir / "postgres", "-D", datadir, "-p", port, "-c", "listen_addresses=127.0.0.1"]
    cmd += ["-c", "unix_socket_directories="]
    if launcher.purpose == "test":  # throwaway data: durability only costs time
        cmd += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    # SIGINT is Postgres' "fast shutdown": roll back sessions, checkpoint, exit.
    proc = launcher.spawn(cmd, logpath, account, signal.SIGINT)
    launcher.stop_on_exit(proc, signal.SIGINT, "postgres")
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    wait_until(lambda: services_postgres.accepts(url), proc, "postgres", logpath)
    launcher.log(f"postgres: started {versions[bindir]} on 127.0.0.1:{port} (data in {datadir})")
    return url


def _initdb(
    launcher: Launcher, initdb: Path, datadir: Path, account: Account, logpath: Path
) -> None:
    nosync = ["--no-sync"] if launcher.purpose == "test" else []
    for locale in ("C.UTF-8", "C"):  # C.UTF-8 is missing on some older systems
        cmd = [initdb, "-D", datadir, "--auth=trust", "-U", "postgres", "--encoding=UTF8"]
        cmd += [f"--locale={locale}", *nosync]
        # On SIGTERM initdb removes what it wrote, so an interrupted run leaves no half
        # cluster behind. It is in a session of its own: Ctrl-C does not reach it, we do.
        proc = launcher.spawn(cmd, logpath, account, signal.SIGTERM)
        try:
            if proc.wait() == 0:
                return
        finally:
            stop(proc, sig=signal.SIGTERM)
    raise ServiceError(f"initdb failed for {datadir}:\n{tail(logpath)}")


# --- Redis -------------------------------------------------------------------------------------


def _redis(launcher: Launcher, probe: Address | None) -> str:
    if launcher.environ.get("REDIS_URL"):
        launcher.log("redis: using REDIS_URL")
        return launcher.environ["REDIS_URL"]
    if probe is not None and _redis_ping(probe):
        launcher.log(f"redis: using {probe[0]}:{probe[1]}")
        return f"redis://{probe[0]}:{probe[1]}/0"
    server = shutil.which("redis-server", path=launcher.path())
    if server is None and launcher.apt_install("redis-server"):
        server = shutil.which("redis-server", path=launcher.path())
    if server is None:
        raise ServiceError("redis-server not found: install redis-server or set REDIS_URL")
    (workdir, logpath), port = launcher.server_dir("redis", None), free_port()
    cmd = [server, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no"]
    proc = launcher.spawn(
        [*cmd, "--daemonize", "no", "--dir", workdir], logpath, None, signal.SIGTERM
    )
    launcher.stop_on_exit(proc, signal.SIGTERM, "redis")
    wait_until(lambda: _redis_ping(("127.0.0.1", port)), proc, "redis", logpath)
    launcher.log(f"redis: started on 127.0.0.1:{port}")
    return f"redis://127.0.0.1:{port}/0"


def _redis_ping(address: Address) -> bool:
    try:
        with socket.create_connection(address, timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _tcp_open(address: Address) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1", preferred: int | None = None) -> int:
    """`preferred` if it can be bound on `host` now, else a free port the kernel picks."""
    if preferred:
        with contextlib.suppress(OSError), socket.socket() as sock:
            # As servers bind (uvicorn does): a port left in TIME_WAIT by the last run is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, preferred))
            return preferred
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _SignalRelay:
    """SIGINT/SIGTERM abort start-up before the command runs, are passed on while it runs, and
    are ignored after it ends, so that a second Ctrl-C cannot cut our servers' shutdown short.

    A signal is also remembered, not only raised: Python runs a handler between any two
    bytecodes, and an exception raised inside an at-fork hook (logging's, when a server or the
    command is forked) is printed and dropped. So start-up checks once more before the command
    runs, and one that comes while the command is being started is passed on once it has."""

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.pending: int | None = None
        self._launching = False
        # Ctrl-C reaches the terminal's whole foreground process group. When that is ours the
        # command stays in it (so it can read the terminal) and already has its SIGINT; passing
        # it on would make a second one, which uvicorn and pytest take as "abort now".
        self.foreground = False
        for fd in (0, 1, 2):
            with contextlib.suppress(OSError):
                self.foreground = self.foreground or os.tcgetpgrp(fd) == os.getpgrp()

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.child is not None:
            self._pass_on(self.child, signum)
            return
        self.pending = signum
        if not self._launching:
            raise Interrupted(signum)

    def _pass_on(self, child: subprocess.Popen[bytes], signum: int) -> None:
        if child.poll() is None and not (signum == signal.SIGINT and self.foreground):
            child.send_signal(signum)

    def run(self, command: Sequence[str], env: Mapping[str, str]) -> int:
        if self.pending is not None:  # its Interrupted was dropped on the way
            raise Interrupted(self.pending)
        self._launching = True
        try:
            # Off a terminal the command gets its own group, so each signal reaches it once: ours.
            self.child = subprocess.Popen(
                command,
                env=env,
                process_group=None if self.foreground else 0,
                preexec_fn=parent_death_signal(signal.SIGTERM),
            )
        except OSError as exc:
            _stderr(f"localservices: cannot run {command[0]}: {exc}")
            return 127
        finally:
            self._launching = False
        if self.pending is not None:  # came while the command was being started
            self._pass_on(self.child, self.pending)
        code = self.child.wait()
        return 128 - code if code < 0 else code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.localservices",
        description="Run COMMAND with DATABASE_URL and REDIS_URL set to usable servers.",
    )
    parser.add_argument("--purpose", choices=("dev", "test"), required=True)
    parser.add_argument("--project-dir", type=Path, default=Path.cwd())
    parser.add_argument("--start-own", action="store_true", help="ignore servers already running")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG...]")
    args = parser.parse_args(argv)
    command: list[str] = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("missing COMMAND")
    relay = _SignalRelay()
    previous = {sig: signal.signal(sig, relay.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    probes = (None, None) if args.start_own else (POSTGRES_DEFAULT, REDIS_DEFAULT)
    try:
        with ensure_services(
            args.project_dir,
            purpose=args.purpose,
            environ=os.environ,
            probe_postgres=probes[0],
            probe_redis=probes[1],
        ) as found:
            env = {**os.environ, "DATABASE_URL": found.database_url, "REDIS_URL": found.redis_url}
            return relay.run(command, env)
    except ServiceError as exc:
        _stderr(f"localservices: {exc}")
        return 1
    except Interrupted as exc:
        return 128 + exc.signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    raise SystemExit(main())
