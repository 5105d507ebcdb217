"""How `localservices` starts a private server: a directory for its data and log (kept in .dev
for dev, temporary for test), the server in a session of its own that is stopped when the
`ensure_services` block ends, and its Debian package installed where that is ours to do.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gateway.processes import TIMEOUT, parent_death_signal, stop

Purpose = Literal["dev", "test"]
Log = Callable[[str], None]
Account = pwd.struct_passwd | None  # whom to run Postgres as; None: ourselves

_FALLBACK_ROOT = Path("/var/lib/gateway-dev")


class ServiceError(RuntimeError):
    """A service could not be found or started; the message says what to do about it."""


class Interrupted(Exception):
    """SIGINT or SIGTERM, raised while we are still starting servers (before the command runs)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@dataclass
class Launcher:
    stack: contextlib.ExitStack  # every start registers its stop here
    project: Path
    purpose: Purpose
    environ: Mapping[str, str]
    log: Log

    def server_dir(self, name: str, account: Account) -> tuple[Path, Path]:
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

    def spawn(
        self, cmd: Sequence[object], logpath: Path, account: Account, deathsig: int
    ) -> subprocess.Popen[bytes]:
        # A new session: Ctrl-C in the terminal must not reach a server before we stop it.
        with logpath.open("ab") as logfile:
            return subprocess.Popen(  # noqa: S603
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

    def stop_on_exit(self, proc: subprocess.Popen[bytes], sig: int, name: str) -> None:
        def stop_and_log() -> None:
            stop(proc, sig=sig)
            self.log(f"{name}: stopped")

        self.stack.callback(stop_and_log)

    def apt_install(self, package: str) -> bool:
        """Install a Debian package, where that is ours to do: as root, or through a sudo that
        needs no password (and so never prompts). Returns False where it is not."""
        apt, sudo = (shutil.which(name, path=self.path()) for name in ("apt-get", "sudo"))
        if apt is None:
            return False
        as_root: list[str] = []
        if os.geteuid() != 0:
            if sudo is None or subprocess.run([sudo, "-n", "true"], capture_output=True).returncode:  # noqa: S603
                return False
            as_root = [sudo, "-n", "DEBIAN_FRONTEND=noninteractive"]  # sudo drops it from env
        self.log(
            f"{package}: not installed; installing it with {'sudo ' if as_root else ''}apt-get"
        )
        env = {**self.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for args in (["update"], ["install", "-y", "--no-install-recommends", package]):
            cmd = [*as_root, apt, *args]
            # apt's chatter goes to stderr: stdout belongs to the command we run.
            proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=2)  # noqa: S603
            interrupted: BaseException | None = None
            while proc.poll() is None:  # never kill a package manager halfway: let it finish
                try:
                    proc.wait()
                except (KeyboardInterrupt, Interrupted) as exc:
                    interrupted = exc
            if interrupted is not None:
                raise interrupted
            if proc.returncode:
                raise ServiceError(f"`{' '.join(cmd)}` failed")
        return True

    def path(self) -> str:
        return self.environ.get("PATH") or os.defpath


def wait_until(
    ready: Callable[[], bool], proc: subprocess.Popen[bytes], name: str, log: Path
) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not ready():
        if proc.poll() is not None:
            raise ServiceError(f"{name} exited with status {proc.returncode}:\n{tail(log)}")
        if time.monotonic() > deadline:
            raise ServiceError(f"{name} did not start in {TIMEOUT:.0f} s:\n{tail(log)}")
        time.sleep(0.1)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _can_enter(path: Path, account: pwd.struct_passwd) -> bool:
    # Ask the kernel as that user rather than reading mode bits: ACLs and groups count too.
    uid, gid = account.pw_uid, account.pw_gid
    test = subprocess.run(["test", "-x", path], user=uid, group=gid, extra_groups=[], cwd="/")  # noqa: S603, S607
    return test.returncode == 0


@contextlib.contextmanager
def _lock(path: Path, project: Path) -> Iterator[None]:
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ServiceError(f"another `make dev` runs Postgres for {project} already") from None
        yield
