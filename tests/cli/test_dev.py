"""`gateway dev` end to end: a real process tree that serves, then stops and leaves nothing.

`gateway dev` is given the run's database and Redis, so it starts no servers of its own: its
children are exactly `gateway web` and `gateway worker`. It seeds the demo data into the run's
database; the `pool` and `redis` fixtures empty both afterwards.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from arq.connections import ArqRedis

from cli import demo
from gateway.db import Pool
from gateway.localservices import free_port
from gateway.settings import Settings

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@dataclass
class Dev:
    proc: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return f"stdout:\n{self.stdout.read_text()}\nstderr:\n{self.stderr.read_text()}"


def _wait_for(what: str, done: Callable[[], bool], dev: Dev, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert dev.proc.poll() is None, (
            f"gateway dev exited ({dev.proc.returncode})\n{dev.output()}"
        )
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s\n{dev.output()}"
        time.sleep(0.1)


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _descendants(pid: int) -> dict[int, bytes]:
    """The processes below `pid` (children, theirs, ...), each with its command line."""
    parent_of: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        # The command name (in parentheses) may hold spaces; the ppid follows the state.
        with contextlib.suppress(OSError, IndexError, ValueError):  # gone meanwhile
            parent_of[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    found: dict[int, bytes] = {}
    parents = {pid}
    while parents:
        parents = {child for child, parent in parent_of.items() if parent in parents}
        for child in parents:
            with contextlib.suppress(OSError):
                found[child] = Path(f"/proc/{child}/cmdline").read_bytes()
    return found


def _still_running(processes: dict[int, bytes]) -> list[int]:
    """Those of `processes` still running (a zombie has stopped; a reused pid is someone else)."""
    running = []
    for pid, cmdline in processes.items():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z" and Path(f"/proc/{pid}/cmdline").read_bytes() == cmdline:
                running.append(pid)
        except (OSError, IndexError):
            pass
    return running


def _gone(processes: dict[int, bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _still_running(processes):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@contextlib.contextmanager
def _one_starting_at_a_time(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`gateway dev` takes the sandbox's and the mail sink's usual ports when they are free
    (8001, 2525): two starting at once (one per test worker) could both see a port free and
    the second fail to bind it. A lock in the directory every worker of this run shares lets
    one start at a time; once up, each holds its ports."""
    shared = tmp_path_factory.getbasetemp().parent
    with (shared / "gateway-dev.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


@pytest.fixture
def dev(
    settings: Settings,
    pool: Pool,
    redis: ArqRedis,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Dev]:
    """`gateway dev`, up and serving, in a session of its own; killed (group and all) after."""
    starting = contextlib.ExitStack()
    starting.enter_context(_one_starting_at_a_time(tmp_path_factory))
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": os.environ.get("HOME", "/"),
        "GATEWAY_ENV": "development",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
    }
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    # Files, not pipes: nobody has to drain them for the process tree to make progress.
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "dev", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # so a signal we send reaches this tree only
        )
    dev = Dev(proc, port, stdout, stderr)
    try:
        _wait_for("/readyz answering 200", lambda: _ready(port), dev, timeout=60)
        # The banner comes right after gateway dev sees /readyz answer itself.
        _wait_for("the banner", lambda: "Ctrl-C stops everything" in stdout.read_text(), dev, 10)
        starting.close()
        yield dev
    finally:
        starting.close()  # if it never came up (closing twice is harmless)
        # The group outlives its leader while any member lives: leave no member behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _children_are_web_and_worker(dev: Dev) -> dict[int, bytes]:
    children = _descendants(dev.proc.pid)
    roles = sorted(cmdline.split(b"\0")[3].decode() for cmdline in children.values())
    assert roles == ["sandbox", "web", "worker"], children
    return children


def test_banner_names_the_url_and_the_demo_logins(dev: Dev) -> None:
    banner = dev.stdout.read_text()
    assert f"Dinero Gateway is running at http://127.0.0.1:{dev.port}" in banner
    assert f"{demo.ADMIN_EMAIL} / {demo.ADMIN_PASSWORD}" in banner
    assert f"{demo.OWNER_EMAIL} / {demo.OWNER_PASSWORD}" in banner
    for name in demo.SHOP_NAMES:
        assert f"shop {name}" in banner
    sandbox = re.search(r"Dinero sandbox \(Visma Connect \+ API\) at (http://\S+)", banner)
    assert sandbox, banner
    with urllib.request.urlopen(f"{sandbox.group(1)}/_sandbox/organizations") as response:  # noqa: S310
        assert any(org["is_pro"] for org in json.load(response))
    assert "both shops post into the sandbox organisation Sokkeriet ApS" in banner


def test_the_banner_shows_how_to_read_the_metrics(dev: Dev) -> None:
    banner = dev.stdout.read_text()
    curl = re.search(r"curl -H 'Authorization: Bearer (\S+)' (http://\S+/metrics)", banner)
    assert curl, banner
    request = urllib.request.Request(  # noqa: S310 - the banner's own http URL
        curl.group(2), headers={"Authorization": f"Bearer {curl.group(1)}"}
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310
        assert "gateway_documents" in response.read().decode()


def test_the_banner_shows_the_mailbox_and_the_gateway_sends_there(dev: Dev) -> None:
    banner = dev.stdout.read_text()
    mailbox = re.search(r"mail +(http://\S+/_sandbox/mail) ", banner)
    assert mailbox, banner
    with urllib.request.urlopen(mailbox.group(1)) as response:  # noqa: S310
        assert "Sent mail" in response.read().decode()
    # The worker is pointed at the sink: its environment names it.
    worker = next(
        pid
        for pid, cmdline in _descendants(dev.proc.pid).items()
        if cmdline.split(b"\0")[3] == b"worker"
    )
    environ = Path(f"/proc/{worker}/environ").read_bytes().split(b"\0")
    assert any(v.startswith(b"GATEWAY_SMTP_URL=smtp://127.0.0.1:") for v in environ)


def test_a_sandbox_shopify_store_is_open_for_the_demo(dev: Dev) -> None:
    banner = dev.stdout.read_text()
    store = re.search(rf"Shopify store +{demo.SHOPIFY_STORE} .*?\n +(http://\S+)\)", banner)
    assert store, banner
    with urllib.request.urlopen(store.group(1)) as response:  # noqa: S310
        assert "Place a test order" in response.read().decode()


def test_a_sandbox_woocommerce_store_is_open_for_the_demo(dev: Dev) -> None:
    banner = dev.stdout.read_text()
    store = re.search(
        r"WooCommerce +(http://\S+/_woocommerce/strikkeriet) .*?\n.*?(http://\S+)\)", banner
    )
    assert store, banner
    with urllib.request.urlopen(store.group(2)) as response:  # noqa: S310
        assert "Place a test order" in response.read().decode()


async def test_the_demo_shops_share_one_live_sandbox_connection(dev: Dev, pool: Pool) -> None:
    rows = await pool.fetch(
        "SELECT s.name, c.organization_id, c.status FROM shops s "
        "JOIN dinero_connections c ON c.id = s.connection_id ORDER BY s.name"
    )
    assert [(r["name"], r["organization_id"], r["status"]) for r in rows] == [
        ("Sokkeriet", 1001, "active"),
        ("Strikkeriet", 1001, "active"),
    ]


@pytest.mark.parametrize(
    "how", ["SIGINT to the process", "SIGTERM to the process", "SIGINT to the process group"]
)
def test_a_signal_stops_it_and_every_child(dev: Dev, how: str) -> None:
    children = _children_are_web_and_worker(dev)
    sig = signal.SIGTERM if how.startswith("SIGTERM") else signal.SIGINT
    if how.endswith("group"):  # what Ctrl-C in a terminal does: web and worker get it too
        os.killpg(dev.proc.pid, sig)
    else:
        dev.proc.send_signal(sig)
    try:
        code = dev.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"gateway dev still runs 15 s after {how}\n{dev.output()}")
    assert code == 0, dev.output()
    assert _still_running(children) == []  # it waited for them before it exited
    assert not _ready(dev.port)
    assert "Traceback" not in dev.stderr.read_text(), dev.output()


def test_its_children_stop_when_it_is_killed(dev: Dev) -> None:
    children = _children_are_web_and_worker(dev)
    dev.proc.kill()  # no chance to clean up: the children's parent-death signal must do it
    assert dev.proc.wait(timeout=5) == -signal.SIGKILL
    assert _gone(children, timeout=15), f"orphaned: {_still_running(children)}\n{dev.output()}"
    assert not _ready(dev.port)
