"""Child processes that do not outlive us: a parent-death signal set as they start, and a stop
that asks first and kills only after a timeout. Used for local servers and `gateway dev`'s
children alike."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

TIMEOUT = 30.0  # for a server to start, and to stop before SIGKILL


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


def stop(
    *procs: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = TIMEOUT
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
