"""What `localservices` needs to know about Postgres: where its server binaries are and which
version each is, a postmaster an earlier run left behind, whether a server lets us in, and the
dev database created on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from gateway.processes import TIMEOUT
from gateway.services_launcher import Log

_T = TypeVar("_T")


def bindirs(path: str) -> list[Path]:
    """Directories with `initdb` and `postgres`: Debian's, newest first, then the PATH's."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda d: float(d.parent.name) if re.fullmatch(r"\d+(\.\d+)?", d.parent.name) else 0,
        reverse=True,
    )
    if on_path := shutil.which("postgres", path=path):
        found.append(Path(on_path).resolve().parent)
    return [d for d in found if (d / "initdb").is_file() and (d / "postgres").is_file()]


def version(bindir: Path) -> str:
    out = subprocess.run([bindir / "postgres", "--version"], capture_output=True, text=True)  # noqa: S603
    match = re.search(r"\(PostgreSQL\) (\d+(?:\.\d+)?)", out.stdout)
    return match.group(1) if match else "?"


def stop_leftover_postmaster(datadir: Path, log: Log) -> None:
    """Stop a postmaster that an earlier run (killed before it could stop it) left running."""
    try:
        pid = int((datadir / "postmaster.pid").read_text().split("\n", 1)[0])
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return  # no server, or a stale pid file, which Postgres clears itself
    if Path(os.fsdecode(argv[0])).name != "postgres" or os.fsencode(datadir) not in argv:
        return
    log(f"postgres: stopping the server an earlier run left behind (pid {pid})")
    deadline = time.monotonic() + TIMEOUT
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


def accepts(url: str) -> bool:
    """Whether the server at `url` lets us in (refused, still starting, wrong password: no)."""
    return _run_async(_accepts(url))


async def _accepts(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except Exception:  # refused, still starting, wrong password: all mean "not usable"
        return False
    await conn.close()
    return True


def create_database(admin_url: str, name: str) -> None:
    """Create database `name` on the server at `admin_url`, unless it is there already."""
    _run_async(_create_database(admin_url, name))


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
