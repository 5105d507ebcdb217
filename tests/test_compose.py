"""No Docker engine runs here: check that the production files parse and say what they must."""

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_compose_names_the_services_with_health_checks() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker"}
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name
    assert services["migrate"]["command"] == ["gateway", "migrate"]
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["worker"]["command"] == ["gateway", "worker"]
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "gateway", "worker", "--check"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert [name for name, s in services.items() if "build" in s] == ["migrate"]


def test_compose_takes_secrets_from_the_environment() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    env = _compose()["services"]["web"]["environment"]
    assert env["GATEWAY_ENV"] == "production"
    secrets = (
        "GATEWAY_SECRET_KEY",
        "GATEWAY_TOKEN_KEYS",
        "DINERO_CLIENT_SECRET",
        "SHOPIFY_CLIENT_SECRET",
        "GATEWAY_METRICS_TOKEN",
    )
    assert env["GATEWAY_SMTP_URL"].startswith("${GATEWAY_SMTP_URL:?")
    for name in secrets:
        assert env[name] == f"${{{name}:?set {name}}}"
    assert "sandbox-secret" not in text and "isv_gateway_dev" not in text
    assert "sandbox-shopify" not in text


def test_dockerfile_runs_unprivileged_in_production() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "USER gateway" in text
    assert "GATEWAY_ENV=production" in text
    for package in ("gateway", "tenants", "web", "workers", "sandbox", "cli"):
        assert f"COPY {package} ./{package}" in text
