"""The Visma Connect stand-in: discovery, the authorize (consent) page, the token endpoint,
and `GET /v1/organizations`, the one Dinero call that is about the signed-in user.

Errors follow RFC 6749: until the client and its redirect URI are known good, problems are
shown on an error page (never redirected to an unchecked address); after that they go back
to the client as `error=…` on the redirect.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any, Final, Literal
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

import jinja2
from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from sandbox.errors import DineroApiError
from sandbox.grants import SCOPES, AuthorizeRequest, GrantError, TokenSet
from sandbox.state import Organization, Sandbox, sandbox_of

_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_PKCE_VALUE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_MAX_STATE: Final = 2000
# Pages are plain HTML with inline styles; nothing else may load or run.
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
_TOKEN_HEADERS: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.PackageLoader("sandbox", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
)


def routes() -> list[BaseRoute]:
    return [
        Route("/.well-known/openid-configuration", discovery, methods=["GET"]),
        Route("/connect/authorize", authorize, methods=["GET", "POST"]),
        Route("/connect/token", token, methods=["POST"]),
        Route("/v1/organizations", list_organizations, methods=["GET"]),
    ]


async def discovery(request: Request) -> Response:
    base = str(request.base_url).rstrip("/")
    return JSONResponse(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/connect/authorize",
            "token_endpoint": f"{base}/connect/token",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "form_post"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": list(SCOPES),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        }
    )


# -- authorize ------------------------------------------------------------------------


class AuthorizeError(Exception):
    """The authorize request is not acceptable (what the consent page would refuse)."""


class _PageError(AuthorizeError):
    """Shown to the user; the redirect URI is not (yet) trusted."""


class _RedirectError(AuthorizeError):
    def __init__(self, error: str, request: AuthorizeRequest) -> None:
        super().__init__(error)
        self.error = error
        self.request = request


def _redirect_uri_allowed(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and parts.hostname in _LOCAL_HOSTS
        and not parts.fragment
        and not parts.username
    )


def _single(params: QueryParams | FormData, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise ValueError(name)
    value = values[0] if values else None
    return value if isinstance(value, str) and value != "" else None


def parse_authorize_request(sandbox: Sandbox, params: QueryParams | FormData) -> AuthorizeRequest:
    try:
        client_id = _single(params, "client_id")
        redirect_uri = _single(params, "redirect_uri")
    except ValueError as exc:
        raise _PageError(f"The parameter {exc} is repeated.") from None
    if client_id is None or client_id not in sandbox.clients:
        raise _PageError("Unknown client.")
    if redirect_uri is None or not _redirect_uri_allowed(redirect_uri):
        raise _PageError("This redirect URI is not registered for the client.")

    def fail(error: str) -> _RedirectError:
        return _RedirectError(
            error, AuthorizeRequest(client_id, redirect_uri, (), state, None, "query")
        )

    state = None
    try:
        state = _single(params, "state")
        response_type = _single(params, "response_type")
        response_mode = _single(params, "response_mode") or "query"
        scope = _single(params, "scope") or ""
        challenge = _single(params, "code_challenge")
        method = _single(params, "code_challenge_method")
    except ValueError:
        raise fail("invalid_request") from None
    if state is not None and len(state) > _MAX_STATE:
        state = None
        raise fail("invalid_request")
    if response_type != "code":
        raise fail("unsupported_response_type")
    if response_mode not in ("query", "form_post"):
        raise fail("invalid_request")
    scopes = tuple(dict.fromkeys(scope.split()))
    if not scopes or not set(scopes) <= set(SCOPES):
        raise fail("invalid_scope")
    if challenge is None and method is not None:
        raise fail("invalid_request")
    # RFC 7636: no method means "plain", which Visma (and we) refuse.
    if challenge is not None and (method != "S256" or not _PKCE_VALUE.match(challenge)):
        raise fail("invalid_request")
    mode: Literal["query", "form_post"] = "form_post" if response_mode == "form_post" else "query"
    return AuthorizeRequest(client_id, redirect_uri, scopes, state, challenge, mode)


async def authorize(request: Request) -> Response:
    sandbox = sandbox_of(request)
    params: QueryParams | FormData = (
        await request.form() if request.method == "POST" else request.query_params
    )
    try:
        auth = parse_authorize_request(sandbox, params)
    except _PageError as exc:
        return _error_page(request, str(exc))
    except _RedirectError as exc:
        return _answer(request, exc.request, {"error": exc.error})

    if request.method == "GET":
        return _consent_page(request, sandbox, auth)

    consent = params.get("consent")
    if not isinstance(consent, str) or not sandbox.grants.take_consent(consent, auth):
        return _error_page(request, "This consent form has expired or was already used.")
    decision = params.get("decision")
    if decision == "approve":
        return _answer(request, auth, {"code": sandbox.issue_code(auth)})
    if decision == "deny":
        return _answer(request, auth, {"error": "access_denied"})
    return _error_page(request, "Choose Approve or Deny.")


def _consent_page(request: Request, sandbox: Sandbox, auth: AuthorizeRequest) -> Response:
    hidden = {
        "client_id": auth.client_id,
        "redirect_uri": auth.redirect_uri,
        "response_type": "code",
        "response_mode": auth.response_mode,
        "scope": " ".join(auth.scopes),
        "state": auth.state,
        "code_challenge": auth.code_challenge,
        "code_challenge_method": "S256" if auth.code_challenge else None,
        "consent": sandbox.grants.remember_consent(auth),
    }
    organizations: list[Organization] = sandbox.organizations_of(sandbox.user)
    return templates.TemplateResponse(
        request,
        "consent.html",
        {
            "client": sandbox.clients[auth.client_id],
            "user": sandbox.user,
            "organizations": organizations,
            "scopes": auth.scopes,
            "hidden": {k: v for k, v in hidden.items() if v is not None},
        },
        headers=_PAGE_HEADERS,
    )


def _answer(request: Request, auth: AuthorizeRequest, result: Mapping[str, str]) -> Response:
    """Sends the result back to the client, with `state`, the way it asked for."""
    fields = dict(result)
    if auth.state is not None:
        fields["state"] = auth.state
    if auth.response_mode == "form_post":
        return templates.TemplateResponse(
            request,
            "form_post.html",
            {"action": auth.redirect_uri, "fields": fields},
            headers=_PAGE_HEADERS,
        )
    parts = urlsplit(auth.redirect_uri)
    query = f"{parts.query}&{urlencode(fields)}" if parts.query else urlencode(fields)
    return RedirectResponse(urlunsplit(parts._replace(query=query)), status_code=302)


def _error_page(request: Request, message: str) -> Response:
    return templates.TemplateResponse(
        request, "error.html", {"message": message}, status_code=400, headers=_PAGE_HEADERS
    )


# -- token ----------------------------------------------------------------------------


def _oauth_error(error: str, status: int = 400, **headers: str) -> Response:
    return JSONResponse({"error": error}, status_code=status, headers=_TOKEN_HEADERS | headers)


def _client_credentials(request: Request, form: FormData) -> tuple[str, str, bool] | None:
    """(client id, secret, came by HTTP Basic), or None when they are missing or garbled."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    form_id, form_secret = form.get("client_id"), form.get("client_secret")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        if not sep:
            return None
        client_id, secret = unquote(user.replace("+", " ")), unquote(password.replace("+", " "))
        if form_secret is not None or (form_id is not None and form_id != client_id):
            return None  # RFC 6749 §2.3: one way of authenticating per request
        return client_id, secret, True
    if isinstance(form_id, str) and isinstance(form_secret, str):
        return form_id, form_secret, False
    return None


def _form_str(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value != "" else None


async def token(request: Request) -> Response:
    sandbox = sandbox_of(request)
    form = await request.form()
    grant_type = _form_str(form, "grant_type") or ""
    counted = grant_type if grant_type in ("authorization_code", "refresh_token") else "other"

    credentials = _client_credentials(request, form)
    client = sandbox.authenticate_client(*credentials[:2]) if credentials else None
    if client is None:
        sandbox.count_token_request(counted, "invalid_client")
        basic = credentials is not None and credentials[2]
        challenge = {"WWW-Authenticate": 'Basic realm="sandbox"'} if basic else {}
        return _oauth_error("invalid_client", 401, **challenge)

    try:
        if grant_type == "authorization_code":
            code = _form_str(form, "code")
            if code is None:
                raise GrantError("invalid_request")
            tokens = sandbox.grants.redeem_code(
                code,
                client_id=client.client_id,
                redirect_uri=_form_str(form, "redirect_uri"),
                code_verifier=_form_str(form, "code_verifier"),
            )
        elif grant_type == "refresh_token":
            refresh_token = _form_str(form, "refresh_token")
            if refresh_token is None:
                raise GrantError("invalid_request")
            tokens = sandbox.grants.refresh(
                refresh_token, client_id=client.client_id, scope=_form_str(form, "scope")
            )
        else:
            raise GrantError("unsupported_grant_type")
    except GrantError as exc:
        sandbox.count_token_request(counted, exc.error)
        return _oauth_error(exc.error)
    sandbox.count_token_request(counted, "ok")
    return JSONResponse(_token_json(tokens), headers=_TOKEN_HEADERS)


def _token_json(tokens: TokenSet) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
        "scope": tokens.scope,
    }
    if tokens.refresh_token is not None:
        body["refresh_token"] = tokens.refresh_token
    return body


# -- GET /v1/organizations --------------------------------------------------------------

# Dinero's OrganizationReadModel, keyed by the lower-cased field name. `fields` picks
# among them and, as Dinero documents, each key comes back spelt the way it was asked for.
_ORGANIZATION_FIELDS: Final = (
    "Name", "Id", "Type", "IsPro", "IsPayingPro", "IsVatFree", "Email", "Phone", "Street",
    "City", "ZipCode", "AttPerson", "IsTaxFreeUnion", "VatNumber", "CountryKey", "Website",
)  # fmt: skip
_DEFAULT_FIELDS: Final = "Id,Name,IsPro"
# Non-nullable in Dinero's model, hence `required` in its schema: always present.
_ALWAYS: Final = ("IsVatFree", "IsTaxFreeUnion")


def _organization_model(organization: Organization) -> dict[str, object]:
    return {
        "Name": organization.name,
        "Id": organization.id,
        "Type": "Default",
        "IsPro": organization.is_pro,
        "IsPayingPro": organization.is_pro,
        "IsVatFree": False,
        "Email": None,
        "Phone": None,
        "Street": None,
        "City": None,
        "ZipCode": None,
        "AttPerson": None,
        "IsTaxFreeUnion": False,
        "VatNumber": None,
        "CountryKey": "DK",
        "Website": None,
    }


async def list_organizations(request: Request) -> Response:
    sandbox = sandbox_of(request)
    user = await sandbox.enter_user_api(request)
    known = {name.lower(): name for name in _ORGANIZATION_FIELDS}
    asked = [f.strip() for f in (request.query_params.get("fields") or _DEFAULT_FIELDS).split(",")]
    asked = [f for f in asked if f]
    unknown = [f for f in asked if f.lower() not in known]
    if unknown:
        raise DineroApiError(
            400,
            "Unknown field in fields.",
            code=42,
            validation_errors={"fields": f"Unknown field: {', '.join(unknown)}"},
        )
    spelling = {known[f.lower()]: f for f in asked}  # in the order asked for
    for name in _ALWAYS:
        spelling.setdefault(name, name)
    body = []
    for organization in sandbox.organizations_of(user):
        model = _organization_model(organization)
        body.append({shown: model[name] for name, shown in spelling.items()})
    return JSONResponse(body)
