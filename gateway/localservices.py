"""Find or start the Postgres and Redis that `make dev` and `make test` need.

Per service, in order: a URL in the environment, a server already answering on the usual local
port, or a private server started here (installing the Debian package first if it is missing and
we are root, or have a sudo that needs no password). Private servers live exactly as long as the
`ensure_services` block; servers we found running are never touched.

    python -m gateway.localservices --purpose test -- pytest
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import fcntl
import hashlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Literal, TypeVar

import asyncpg

Purpose = Literal["dev", "test"]
Address = tuple[str, int]
Log = Callable[[str], None]
Account = pwd.struct_passwd | None  # whom to run Postgres as; None: ourselves

POSTGRES_DEFAULT: Address = ("127.0.0.1", 5432)
REDIS_DEFAULT: Address = ("127.0.0.1", 6379)
DEV_DATABASE = "gateway_dev"
_TIMEOUT = 30.0  # for a server to start, and to stop before SIGKILL
_FALLBACK_ROOT = Path("/var/lib/gateway-dev")
_T = TypeVar("_T")


class ServiceError(RuntimeError):
    """A service could not be found or started; the message says what to do about it."""


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
        launcher = _Launcher(stack, project_dir.resolve(), purpose, environ, log)
        database_url = launcher.postgres(probe_postgres)
        yield Services(database_url=database_url, redis_url=launcher.redis(probe_redis))


@dataclass
class _Launcher:
    stack: contextlib.ExitStack  # every start registers its stop here
    project: Path
    purpose: Purpose
    environ: Mapping[str, str]
    log: Log

    def postgres(self, probe: Address | None) -> str:
        if self.environ.get("DATABASE_URL"):
            self.log("postgres: using DATABASE_URL")
            return self.environ["DATABASE_URL"]
        url = None
        if probe is not None and _tcp_open(probe):
            users = dict.fromkeys(["postgres", pwd.getpwuid(os.getuid()).pw_name])
            urls = [f"postgresql://{user}@{probe[0]}:{probe[1]}/postgres" for user in users]
            url = next((u for u in urls if _run_async(_pg_accepts(u))), None)
            how = "using" if url else "cannot log in to"  # e.g. it wants a password
            self.log(f"postgres: {how} {probe[0]}:{probe[1]}")
        url = url or self._start_postgres()
        if self.purpose == "test":
            return url
        try:
            _run_async(_create_database(url, DEV_DATABASE))
        except asyncpg.PostgresError as exc:
            raise ServiceError(f"cannot create {DEV_DATABASE}: {exc}; set DATABASE_URL") from exc
        return f"{url.rsplit('/', 1)[0]}/{DEV_DATABASE}"

    def _start_postgres(self) -> str:
        bindirs = _postgres_bindirs(self._path())
        if not bindirs and self._apt_install("postgresql"):
            bindirs = _postgres_bindirs(self._path())
        if not bindirs:
            raise ServiceError("no PostgreSQL server found: install postgresql or set DATABASE_URL")
        # Postgres refuses to run as root, so root runs it as the user the Debian package makes.
        account = None
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise ServiceError("running as root needs a 'postgres' user for Postgres") from None
        datadir, logpath = self._dir("postgres", account)
        if self.purpose == "test":
            datadir = datadir / "data"  # initdb wants to create it, or find it empty
        # A data dir opens only with the major version that created it.
        version_file = datadir / "PG_VERSION"
        made_by = version_file.read_text().strip() if version_file.is_file() else None
        versions = {d: _pg_version(d) for d in bindirs}
        bindir = next((d for d in bindirs if made_by in (None, versions[d].split(".")[0])), None)
        if bindir is None:
            raise ServiceError(f"{datadir} needs PostgreSQL {made_by}; install it or remove that")
        if made_by is None:
            self._initdb(bindir / "initdb", datadir, account, logpath)
        else:
            _stop_leftover_postmaster(datadir, self.log)
        port = free_port()
        # No Unix socket: clients use TCP, and socket paths are limited to ~107 bytes.
        cmd = [bindir / "postgres", "-D", datadir, "-p", port, "-c", "listen_addresses=127.0.0.1"]
        cmd += ["-c", "unix_socket_directories="]
        if self.purpose == "test":  # throwaway data: durability only costs time
            cmd += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        # SIGINT is Postgres' "fast shutdown": roll back sessions, checkpoint, exit.
        proc = self._spawn(cmd, logpath, account, signal.SIGINT)
        self._stop_on_exit(proc, signal.SIGINT, "postgres")
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        _wait_until(lambda: _run_async(_pg_accepts(url)), proc, "postgres", logpath)
        self.log(f"postgres: started {versions[bindir]} on 127.0.0.1:{port} (data in {datadir})")
        return url

    def _initdb(self, initdb: Path, datadir: Path, account: Account, logpath: Path) -> None:
        nosync = ["--no-sync"] if self.purpose == "test" else []
        for locale in ("C.UTF-8", "C"):  # C.UTF-8 is missing on some older systems
            cmd = [initdb, "-D", datadir, "--auth=trust", "-U", "postgres", "--encoding=UTF8"]
            cmd += [f"--locale={locale}", *nosync]
            # On SIGTERM initdb removes what it wrote, so an interrupted run leaves no half
            # cluster behind. It is in a session of its own: Ctrl-C does not reach it, we do.
            proc = self._spawn(cmd, logpath, account, signal.SIGTERM)
            try:
                if proc.wait() == 0:
                    return
            finally:
                stop(proc, sig=signal.SIGTERM)
        raise ServiceError(f"initdb failed for {datadir}:\n{_tail(logpath)}")

    def redis(self, probe: Address | None) -> str:
        if self.environ.get("REDIS_URL"):
            self.log("redis: using REDIS_URL")
            return self.environ["REDIS_URL"]
        if probe is not None and _redis_ping(probe):
            self.log(f"redis: using {probe[0]}:{probe[1]}")
            return f"redis://{probe[0]}:{probe[1]}/0"
        server = shutil.which("redis-server", path=self._path())
        if server is None and self._apt_install("redis-server"):
            server = shutil.which("redis-server", path=self._path())
        if server is None:
            raise ServiceError("redis-server not found: install redis-server or set REDIS_URL")
        (workdir, logpath), port = self._dir("redis", None), free_port()
        cmd = [server, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no"]
        proc = self._spawn(
            [*cmd, "--daemonize", "no", "--dir", workdir], logpath, None, signal.SIGTERM
        )
        self._stop_on_exit(proc, signal.SIGTERM, "redis")
        _wait_until(lambda: _redis_ping(("127.0.0.1", port)), proc, "redis", logpath)
        self.log(f"redis: started on 127.0.0.1:{port}")
        return f"redis://127.0.0.1:{port}/0"

    def _dir(self, name: str, account: Account) -> tuple[Path, Path]:
        """(directory, log file) for a server: for dev kept in .dev, for test removed on exit."""
        if self.purpose == "dev":
            parent = self.project / ".dev"
            parent.mkdir(exist_ok=True)
            if name == "postgres":  # only one run owns it, so a live postmaster is a leftover
                self.stack.enter_context(_lock(parent / "postgres.lock", self.project))
        else:
            parent = Path(self.environ.get("TMPDIR") or "/tmp")  # noqa: S108 - mkdtemp below
        if account is not None and not _can_enter(parent, account):
            # E.g. a project under /root (mode 700). Loosening someone's home directory is not
            # ours to do, so the data goes where the postgres user can reach it.
            key = hashlib.sha256(str(self.project).encode()).hexdigest()[:12]
            fallback = _FALLBACK_ROOT / key
            self.log(f"{name}: {account.pw_name} cannot enter {parent}; using {fallback}")
            parent = fallback
            parent.mkdir(parents=True, exist_ok=True)
        if self.purpose == "dev":
            path, logpath = parent / name, parent / f"{name}.log"
            path.mkdir(mode=0o700, exist_ok=True)
        else:
            path = Path(tempfile.mkdtemp(prefix=f"gateway-{name}-", dir=parent))
            self.stack.callback(shutil.rmtree, path, ignore_errors=True)
            logpath = path / f"{name}.log"
        if account is not None:
            os.chown(path, account.pw_uid, account.pw_gid)
        return path, logpath

    def _spawn(
        self, cmd: Sequence[object], logpath: Path, account: Account, deathsig: int
    ) -> subprocess.Popen[bytes]:
        # A new session: Ctrl-C in the terminal must not reach a server before we stop it.
        with logpath.open("ab") as logfile:
            return subprocess.Popen(
                [str(part) for part in cmd],
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                env=dict(self.environ),
                cwd="/",
                start_new_session=True,
                user=None if account is None else account.pw_uid,
                group=None if account is None else account.pw_gid,
                extra_groups=None if account is None else [],
                preexec_fn=parent_death_signal(deathsig),
            )

    def _stop_on_exit(self, proc: subprocess.Popen[bytes], sig: int, name: str) -> None:
        def stop_and_log() -> None:
            stop(proc, sig=sig)
            self.log(f"{name}: stopped")

        self.stack.callback(stop_and_log)

    def _apt_install(self, package: str) -> bool:
        """Install a Debian package, where that is ours to do: as root, or through a sudo that
        needs no password (and so never prompts). Returns False where it is not."""
        apt, sudo = (shutil.which(name, path=self._path()) for name in ("apt-get", "sudo"))
        if apt is None:
            return False
        as_root: list[str] = []
        if os.geteuid() != 0:
            if sudo is None or subprocess.run([sudo, "-n", "true"], capture_output=True).returncode:
                return False
            as_root = [sudo, "-n", "DEBIAN_FRONTEND=noninteractive"]  # sudo drops it from env
        self.log(
            f"{package}: not installed; installing it with {'sudo ' if as_root else ''}apt-get"
        )
        env = {**self.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for args in (["update"], ["install", "-y", "--no-install-recommends", package]):
            cmd = [*as_root, apt, *args]
            # apt's chatter goes to stderr: stdout belongs to the command we run.
            proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=2)
            interrupted: BaseException | None = None
            while proc.poll() is None:  # never kill a package manager halfway: let it finish
                try:
                    proc.wait()
                except (KeyboardInterrupt, _Interrupted) as exc:
                    interrupted = exc
            if interrupted is not None:
                raise interrupted
            if proc.returncode:
                raise ServiceError(f"`{' '.join(cmd)}` failed")
        return True

    def _path(self) -> str:
        return self.environ.get("PATH") or os.defpath


def _postgres_bindirs(path: str) -> list[Path]:
    """Directories with `initdb` and `postgres`: Debian's, newest first, then the PATH's."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda d: float(d.parent.name) if re.fullmatch(r"\d+(\.\d+)?", d.parent.name) else 0,
        reverse=True,
    )
    if on_path := shutil.which("postgres", path=path):
        found.append(Path(on_path).resolve().parent)
    return [d for d in found if (d / "initdb").is_file() and (d / "postgres").is_file()]


def _pg_version(bindir: Path) -> str:
    out = subprocess.run([bindir / "postgres", "--version"], capture_output=True, text=True)
    match = re.search(r"\(PostgreSQL\) (\d+(?:\.\d+)?)", out.stdout)
    return match.group(1) if match else "?"


def _can_enter(path: Path, account: pwd.struct_passwd) -> bool:
    # Ask the kernel as that user rather than reading mode bits: ACLs and groups count too.
    uid, gid = account.pw_uid, account.pw_gid
    test = subprocess.run(["test", "-x", path], user=uid, group=gid, extra_groups=[], cwd="/")
    return test.returncode == 0


@contextlib.contextmanager
def _lock(path: Path, project: Path) -> Iterator[None]:
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ServiceError(f"another `make dev` runs Postgres for {project} already") from None
        yield


def _stop_leftover_postmaster(datadir: Path, log: Log) -> None:
    """Stop a postmaster that an earlier run (killed before it could stop it) left running."""
    try:
        pid = int((datadir / "postmaster.pid").read_text().split("\n", 1)[0])
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return  # no server, or a stale pid file, which Postgres clears itself
    if Path(os.fsdecode(argv[0])).name != "postgres" or os.fsencode(datadir) not in argv:
        return
    log(f"postgres: stopping the server an earlier run left behind (pid {pid})")
    deadline = time.monotonic() + _TIMEOUT
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
        while _alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:  # a zombie counts as gone: it holds no port or files, and it is not ours to reap
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def _pg_accepts(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except Exception:  # refused, still starting, wrong password: all mean "not usable"
        return False
    await conn.close()
    return True


async def _create_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=5)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # a concurrent run won
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _run_async(coro: Coroutine[Any, Any, _T]) -> _T:
    # asyncio.run() would install and then clear this thread's event loop, breaking callers
    # that have one (pytest-asyncio); a short-lived thread makes this safe to call anywhere.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="localservices") as pool:
        return pool.submit(asyncio.run, coro).result()


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


def parent_death_signal(sig: int) -> Callable[[], None] | None:
    """A preexec_fn asking Linux to send `sig` to the child when we die, even by SIGKILL.

    The kernel clears this setting whenever the process changes uid or gid. subprocess runs
    preexec_fn *after* it switches to user=/group=, so set here it survives; set earlier, or on
    a `runuser` wrapper (which forks), it is lost. Best effort: Linux only, and the signal fires
    when the *thread* that started the child ends, so start servers from a long-lived thread.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork, not in the child
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, sig, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:  # we died before the setting took effect
            os._exit(1)

    return preexec


def _wait_until(
    ready: Callable[[], bool], proc: subprocess.Popen[bytes], name: str, log: Path
) -> None:
    deadline = time.monotonic() + _TIMEOUT
    while not ready():
        if proc.poll() is not None:
            raise ServiceError(f"{name} exited with status {proc.returncode}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise ServiceError(f"{name} did not start in {_TIMEOUT:.0f} s:\n{_tail(log)}")
        time.sleep(0.1)


def stop(
    *procs: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = _TIMEOUT
) -> None:
    """Send `sig` to each of `procs` still running, give them `timeout` seconds in all to exit,
    then SIGKILL whichever has not. Returns once every one has exited."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(sig)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class _Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _SignalRelay:
    """SIGINT/SIGTERM abort start-up before the command runs, are passed on while it runs, and
    are ignored after it ends, so that a second Ctrl-C cannot cut our servers' shutdown short."""

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        # Ctrl-C reaches the terminal's whole foreground process group. When that is ours the
        # command stays in it (so it can read the terminal) and already has its SIGINT; passing
        # it on would make a second one, which uvicorn and pytest take as "abort now".
        self.foreground = False
        for fd in (0, 1, 2):
            with contextlib.suppress(OSError):
                self.foreground = self.foreground or os.tcgetpgrp(fd) == os.getpgrp()

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.child is None:
            raise _Interrupted(signum)
        if self.child.poll() is None and not (signum == signal.SIGINT and self.foreground):
            self.child.send_signal(signum)

    def run(self, command: Sequence[str], env: Mapping[str, str]) -> int:
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
    except _Interrupted as exc:
        return 128 + exc.signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    raise SystemExit(main())
