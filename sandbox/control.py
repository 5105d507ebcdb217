"""`/_sandbox/`: the JSON endpoints tests and demos use to steer the sandbox.

Invalid input answers 400 `{"errors": {field: message}}`. The listings of stored documents
(`/_sandbox/organizations/{id}/invoices`, ...) live with the Dinero API in `api.py`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.connect import AuthorizeError, parse_authorize_request
from sandbox.grants import REFRESH_MODES
from sandbox.shopify.state import shopify_of
from sandbox.shopify.webhooks import outbox_of
from sandbox.state import Faults, Organization, sandbox_of
from sandbox.woocommerce.state import woocommerce_of
from sandbox.woocommerce.webhooks import outbox_of as woocommerce_outbox_of


def routes() -> list[BaseRoute]:
    return [
        Route("/_sandbox/faults", faults, methods=["GET", "POST"]),
        Route("/_sandbox/settings", settings, methods=["GET", "POST"]),
        Route("/_sandbox/organizations", organizations, methods=["GET", "POST"]),
        Route("/_sandbox/organizations/{id:int}/revoke", revoke, methods=["POST"]),
        Route("/_sandbox/tokens/expire", expire_tokens, methods=["POST"]),
        Route("/_sandbox/clock", clock, methods=["GET", "POST"]),
        Route("/_sandbox/stats", stats, methods=["GET"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/consent", consent, methods=["POST"]),
    ]


class _Invalid(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid input")
        self.errors = errors


async def _body(request: Request, *, allowed: set[str]) -> dict[str, Any]:
    """The JSON object sent (an empty body counts as `{}`), with unknown keys refused."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _Invalid({"body": "must be a JSON object"}) from None
    if not isinstance(data, dict):
        raise _Invalid({"body": "must be a JSON object"})
    unknown = {k: "unknown field" for k in data if k not in allowed}
    if unknown:
        raise _Invalid(unknown)
    return data


def _number(data: dict[str, Any], name: str, *, low: float, high: float) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    # bool is an int in Python; `true` is not a number here.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Invalid({name: "must be a number"})
    if not low <= value <= high:
        raise _Invalid({name: f"must be from {low:g} to {high:g}"})
    return float(value)


def _integer(data: dict[str, Any], name: str, *, low: int, high: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid({name: "must be a whole number"})
    if not low <= value <= high:
        raise _Invalid({name: f"must be from {low} to {high}"})
    return value


def _invalid(exc: _Invalid) -> Response:
    return JSONResponse({"errors": exc.errors}, status_code=400)


async def faults(request: Request) -> Response:
    """POST replaces every fault with what the body names; `{}` clears them all."""
    sandbox = sandbox_of(request)
    if request.method == "POST":
        names = {f.name for f in dataclasses.fields(Faults)}
        try:
            data = await _body(request, allowed=names)
            outage = data.get("outage", False)
            if not isinstance(outage, bool):
                raise _Invalid({"outage": "must be true or false"})
            rates = {
                name: _number(data, name, low=0, high=1) or 0.0
                for name in ("error_rate", "rate_limit_429_rate", "drop_after_commit_rate")
            }
            latency = _number(data, "latency_ms", low=0, high=120_000) or 0.0
        except _Invalid as exc:
            return _invalid(exc)
        sandbox.faults = Faults(latency_ms=latency, outage=outage, **rates)
    return JSONResponse(dataclasses.asdict(sandbox.faults))


async def settings(request: Request) -> Response:
    """The client's token behaviour (a new refresh mode applies from the next consent), and
    the calls a minute each organisation allows (Dinero's 100 unless a test raises it)."""
    sandbox = sandbox_of(request)
    if request.method == "POST":
        policy = sandbox.grants.policy
        bounds = {
            "grace_seconds": (0, 3600),
            "access_token_ttl": (1, 7 * 24 * 3600),
            "refresh_idle_lifetime": (1, 10 * 365 * 24 * 3600),
            "refresh_absolute_lifetime": (1, 10 * 365 * 24 * 3600),
        }
        try:
            data = await _body(request, allowed={"refresh_mode", "rate_limit_per_minute", *bounds})
            mode = data.get("refresh_mode", policy.refresh_mode)
            if mode not in REFRESH_MODES:
                raise _Invalid({"refresh_mode": f"must be one of {', '.join(REFRESH_MODES)}"})
            numbers = {
                name: _integer(data, name, low=lo, high=hi) for name, (lo, hi) in bounds.items()
            }
            rate_limit = _integer(data, "rate_limit_per_minute", low=1, high=1_000_000)
        except _Invalid as exc:
            return _invalid(exc)
        sandbox.grants.policy = dataclasses.replace(
            policy, refresh_mode=mode, **{k: v for k, v in numbers.items() if v is not None}
        )
        if rate_limit is not None:
            sandbox.rate_limit = rate_limit
    return JSONResponse(
        {**dataclasses.asdict(sandbox.grants.policy), "rate_limit_per_minute": sandbox.rate_limit}
    )


def _organization_json(organization: Organization) -> dict[str, Any]:
    return {"id": organization.id, "name": organization.name, "is_pro": organization.is_pro}


async def organizations(request: Request) -> Response:
    sandbox = sandbox_of(request)
    if request.method == "GET":
        return JSONResponse([_organization_json(o) for o in sandbox.organizations_of(sandbox.user)])
    try:
        data = await _body(request, allowed={"name", "is_pro"})
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _Invalid({"name": "must be a non-empty string"})
        is_pro = data.get("is_pro", True)
        if not isinstance(is_pro, bool):
            raise _Invalid({"is_pro": "must be true or false"})
    except _Invalid as exc:
        return _invalid(exc)
    created = sandbox.add_organization(name.strip(), is_pro=is_pro)
    return JSONResponse(_organization_json(created), status_code=201)


async def revoke(request: Request) -> Response:
    sandbox = sandbox_of(request)
    organization_id: int = request.path_params["id"]
    if organization_id not in sandbox.organizations:
        return JSONResponse({"errors": {"id": "no such organisation"}}, status_code=404)
    return JSONResponse({"revoked_grants": sandbox.revoke_organization(organization_id)})


async def expire_tokens(request: Request) -> Response:
    sandbox = sandbox_of(request)
    try:
        data = await _body(request, allowed={"organization_id"})
        organization_id = data.get("organization_id")
        if organization_id is not None and (
            isinstance(organization_id, bool) or not isinstance(organization_id, int)
        ):
            raise _Invalid({"organization_id": "must be an organisation id"})
    except _Invalid as exc:
        return _invalid(exc)
    return JSONResponse({"expired": sandbox.expire_access_tokens(organization_id)})


async def clock(request: Request) -> Response:
    sandbox = sandbox_of(request)
    if request.method == "POST":
        try:
            data = await _body(request, allowed={"advance_seconds"})
            seconds = _number(data, "advance_seconds", low=0, high=10 * 365 * 24 * 3600)
            if seconds is None:
                raise _Invalid({"advance_seconds": "is required"})
        except _Invalid as exc:
            return _invalid(exc)
        sandbox.advance_clock(seconds)
    return JSONResponse({"now": sandbox.now().isoformat()})


async def stats(request: Request) -> Response:
    return JSONResponse(sandbox_of(request).stats.to_json())


async def reset(request: Request) -> Response:
    """Everything back to the seeded state: Dinero's organisations, Shopify's and
    WooCommerce's stores."""
    sandbox_of(request).reset()
    shopify_of(request).reset()
    outbox_of(request).forget()
    woocommerce_of(request).reset()
    woocommerce_outbox_of(request).forget()
    return JSONResponse({"reset": True})


async def consent(request: Request) -> Response:
    """`{"authorize_url": ...}` → `{"code", "state"}`: the sandbox user presses Approve on
    that consent page without a browser (for scripts such as `gateway dev`'s demo set-up).
    The request is checked exactly as the consent page checks it."""
    sandbox = sandbox_of(request)
    try:
        data = await _body(request, allowed={"authorize_url"})
        url = data.get("authorize_url")
        if not isinstance(url, str):
            raise _Invalid({"authorize_url": "is required"})
        try:
            authorize = parse_authorize_request(sandbox, QueryParams(urlsplit(url).query))
        except AuthorizeError as exc:
            raise _Invalid({"authorize_url": str(exc) or "not acceptable"}) from None
    except _Invalid as exc:
        return _invalid(exc)
    return JSONResponse({"code": sandbox.issue_code(authorize), "state": authorize.state})
