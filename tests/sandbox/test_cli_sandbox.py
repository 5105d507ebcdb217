"""`gateway sandbox`, run as a real subprocess: no database, no Redis."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx

from gateway.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET


def gateway(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def environ(**env: str) -> dict[str, str]:
    # No DATABASE_URL or REDIS_URL: the sandbox must not need them.
    return {"PATH": "/usr/bin:/bin", **env}


def test_help_names_host_and_port() -> None:
    result = subprocess.run(
        gateway("sandbox", "--help"),
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=environ(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: gateway sandbox")
    assert "--host" in result.stdout and "--port" in result.stdout and "8081" in result.stdout


def test_refuses_to_start_in_production() -> None:
    result = subprocess.run(
        gateway("sandbox", "--port", "1"),
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=environ(GATEWAY_ENV="production"),
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "GATEWAY_ENV=production" in result.stderr
    assert "refusing" in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serves_the_consent_page_and_prints_how_to_use_it() -> None:
    port = _free_port()
    process = subprocess.Popen(
        gateway("sandbox", "--port", str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=environ(GATEWAY_ENV="development"),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                discovery = httpx.get(f"{base}/.well-known/openid-configuration", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.1)
        assert discovery.json()["token_endpoint"] == f"{base}/connect/token"
        page = httpx.get(
            f"{base}/connect/authorize",
            params={
                "client_id": SANDBOX_CLIENT_ID,
                "redirect_uri": "http://localhost:8000/oauth/dinero/callback",
                "response_type": "code",
                "scope": "dineropublicapi:read dineropublicapi:write offline_access",
                "state": "abc",
            },
        )
        assert page.status_code == 200
        assert ">Approve</button>" in page.text
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}" in out
    assert SANDBOX_CLIENT_ID in out and SANDBOX_CLIENT_SECRET in out
    assert "1003  Hobbyværkstedet  (not Pro)" in out
