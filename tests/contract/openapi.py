"""Check HTTP traffic against Dinero's OpenAPI description (tests only).

The product never reads `../shared/dinero/openapi-v1.json`; the contract tests do, and skip when
it is absent. Checks are case-sensitive on purpose: Dinero binds input case-insensitively, but
our client must send the schemas' exact PascalCase names and the sandbox must answer with them.

Wiring, in `tests/contract/conftest.py`:

    @pytest.fixture
    def openapi_recorder() -> Iterator[TrafficRecorder]:
        recorder = openapi_recorder_fixture()  # skips the test when the file is absent
        yield recorder
        recorder.assert_clean()

and `openapi_recorder.attach(client)` on the `httpx.AsyncClient` the Dinero client is built on,
before the first request. Violations are readable strings such as
`POST /v1/{organizationId}/invoices request body at /ProductLines/0: 'Quantity' is a required
property`.
"""

from __future__ import annotations

import email.parser
import email.policy
import functools
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "dinero" / "openapi-v1.json"

_SPEC_URI = "urn:dinero:openapi-v1"
_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})
_INTEGER = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_INT32 = (-(2**31), 2**31 - 1)


def load_spec(path: Path = SPEC_PATH) -> Spec | None:
    """Dinero's description, or None when the file is absent; loaded once per path."""
    return _load(path.resolve())


def require_spec(path: Path = SPEC_PATH) -> Spec:
    """Dinero's description, or a pytest skip that says where it was looked for."""
    spec = load_spec(path)
    if spec is None:
        pytest.skip(
            f"Dinero's OpenAPI description is not at {path} (it lives in ../shared/dinero "
            "beside the repository); the contract tests validate traffic against it"
        )
    return spec


def openapi_recorder_fixture(path: Path = SPEC_PATH) -> TrafficRecorder:
    """A fresh recorder for one test; skips the test when the description is absent."""
    return TrafficRecorder(require_spec(path))


@functools.cache
def _load(path: Path) -> Spec | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    # Dinero publishes a tokenUrl on its implicit flow, which strict 3.1 validators reject.
    for scheme in document.get("components", {}).get("securitySchemes", {}).values():
        scheme.get("flows", {}).get("implicit", {}).pop("tokenUrl", None)
    return Spec(document)


class NotInSpec(LookupError):
    """A method and path that Dinero's API does not have; its text is the violation."""


@dataclass(frozen=True)
class Operation:
    method: str  # as sent, upper case
    template: str  # "/v1/{organizationId}/invoices/{guid}/book"
    path_values: Mapping[str, str]  # the concrete path's values for the template's parameters
    pointer: str  # JSON pointer to the operation object in the description
    definition: Mapping[str, Any] = field(repr=False)


class Spec:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self._registry: Registry[Any] = Registry().with_resource(
            _SPEC_URI, DRAFT202012.create_resource(document)
        )
        self._templates = [(template, template.split("/")) for template in document["paths"]]
        self._validators: dict[str, Validator] = {}

    def operation(self, method: str, path: str) -> Operation:
        """The operation a concrete path calls; literal segments beat parameters."""
        matches = []
        for template, parts in self._templates:
            values = _match(parts, path.split("/"))
            if values is not None:
                specificity = [not part.startswith("{") for part in parts]
                matches.append((specificity, template, values))
        matches.sort(key=lambda match: match[0], reverse=True)
        allowed: set[str] = set()
        for _, template, values in matches:
            item = self.document["paths"][template]
            if method.lower() in item:
                pointer = f"/paths/{_escape(template)}/{method.lower()}"
                return Operation(method.upper(), template, values, pointer, item[method.lower()])
            allowed.update(name.upper() for name in item if name in _METHODS)
        hint = f" (that path takes {', '.join(sorted(allowed))})" if allowed else ""
        raise NotInSpec(f"{method.upper()} {path}: not in Dinero's API{hint}")

    def validate_request(self, request: httpx.Request) -> list[str]:
        try:
            operation = self.operation(request.method, request.url.path)
        except NotInSpec as error:
            return [str(error)]
        report = _Report(operation)
        self._check_path(operation, report)
        self._check_query(operation, request.url.params, report)
        self._check_request_body(operation, request, report)
        return report.violations

    def validate_response(self, request: httpx.Request, response: httpx.Response) -> list[str]:
        """Violations in an answer; an unknown operation is left to `validate_request`."""
        try:
            operation = self.operation(request.method, request.url.path)
        except NotInSpec:
            return []
        report = _Report(operation)
        status, body = response.status_code, response.content
        media_type = _media_type(response.headers.get("content-type"))
        responses = operation.definition.get("responses", {})
        where = f"response {status}"
        if not 200 <= status < 300:
            # The description has no error schemas; an error that says it is JSON must be JSON.
            if _is_json(media_type):
                self._check_json(where, self._json_schema(operation, str(status)), body, report)
            return report.violations
        # Dinero declares only 200; any 2xx is held to it (some deployments may answer 201).
        code = next((c for c in (str(status), "2XX", "200") if c in responses), None)
        schema_pointer = self._json_schema(operation, code) if code else None
        if schema_pointer is None:
            if body and _is_json(media_type):
                report.add(where, "Dinero declares no JSON body here, so nobody may rely on one")
            return report.violations
        declared = {_media_type(key) for key in responses[code].get("content", {})}
        if not _is_json(media_type):
            if media_type not in declared:  # another declared type, e.g. an invoice as PDF
                report.add(where, f"expected a JSON body, got {media_type or 'no content type'}")
            return report.violations
        selected = self._selected_fields(operation, request)
        self._check_json(where, schema_pointer, body, report, selected)
        return report.violations

    def _check_path(self, operation: Operation, report: _Report) -> None:
        for name, (pointer, parameter) in self._parameters(operation, "path").items():
            raw = operation.path_values.get(name)
            if raw is None:
                continue
            schema = self._resolve(parameter.get("schema", {}))
            value = _typed(raw, _types(schema))
            where = f"path parameter {name!r}"
            report.add_errors(where, self._errors(f"{pointer}/schema", value))
            # Organisation ids are int32 (the attachment endpoints say so); most paths declare a
            # bare string, which would let "None" or a name through.
            if name == "organizationId" and "integer" not in _types(schema) and not _is_int32(raw):
                report.add(where, f"{raw!r} is not an organisation id (an int32)")

    def _check_query(
        self, operation: Operation, params: httpx.QueryParams, report: _Report
    ) -> None:
        declared = self._parameters(operation, "query")
        for name in params:
            where = f"query parameter {name!r}"
            if name not in declared:
                similar = [known for known in declared if known.lower() == name.lower()]
                hint = (
                    f"did you mean {similar[0]!r}?" if similar else f"declared: {sorted(declared)}"
                )
                report.add(where, f"not declared ({hint})")
                continue
            pointer, parameter = declared[name]
            schema = self._resolve(parameter.get("schema", {}))
            values = params.get_list(name)
            if "array" in _types(schema):
                item_types = _types(self._resolve(schema.get("items", {})))
                value: object = [_typed(raw, item_types) for raw in values]
            elif len(values) > 1:
                report.add(where, f"given {len(values)} times, but it takes one value")
                continue
            else:
                value = _typed(values[0], _types(schema))
            report.add_errors(where, self._errors(f"{pointer}/schema", value))
        for name, (_, parameter) in declared.items():
            if parameter.get("required") and name not in params:
                report.add(f"query parameter {name!r}", "required but missing")

    def _check_request_body(
        self, operation: Operation, request: httpx.Request, report: _Report
    ) -> None:
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = request.read()
        declared = operation.definition.get("requestBody")
        content_type = request.headers.get("content-type", "")
        media_type = _media_type(content_type)
        where = "request body"
        if not body:
            if declared is not None and declared.get("required"):
                report.add(where, "required but missing")
            return
        if declared is None:
            report.add(where, f"the operation takes none, but {media_type or 'one'} was sent")
            return
        content = declared.get("content", {})
        key = next((key for key in content if _media_type(key) == media_type), None)
        if key is None:
            sent = media_type or "a body without a content type"
            report.add(where, f"{sent} is not declared (declared: {', '.join(content)})")
            return
        pointer = f"{operation.pointer}/requestBody/content/{_escape(key)}"
        if _is_json(media_type):
            schema = f"{pointer}/schema" if "schema" in content[key] else None
            self._check_json(where, schema, body, report)
        elif media_type == "multipart/form-data":
            self._check_parts(content[key], content_type, body, report)

    def _check_json(
        self,
        where: str,
        schema_pointer: str | None,
        body: bytes,
        report: _Report,
        selected: frozenset[str] | None = None,
    ) -> None:
        try:
            instance = _parse_json(body)
        except ValueError as error:
            report.add(where, f"not JSON ({error})")
            return
        if schema_pointer is None:
            return
        errors = self._errors(schema_pointer, instance)
        if selected is not None:
            errors = [error for error in errors if not _left_out(error, selected)]
        report.add_errors(where, errors)

    def _check_parts(
        self, media: Mapping[str, Any], content_type: str, body: bytes, report: _Report
    ) -> None:
        # The description names multipart parts only in `encoding` (and a schema, if any).
        schema = self._resolve(media.get("schema", {}))
        declared = set(media.get("encoding", {})) | set(schema.get("properties", {}))
        sent = _part_names(content_type, body)
        if sent is None:
            report.add("request body", "not a readable multipart body")
            return
        for name in sorted(declared - set(sent)):
            report.add("request body", f"part {name!r} is missing")
        if not declared:
            return  # nothing to hold extra parts against
        for name in sorted(set(sent) - declared):
            report.add("request body", f"part {name!r} is not declared ({sorted(declared)})")

    def _selected_fields(
        self, operation: Operation, request: httpx.Request
    ) -> frozenset[str] | None:
        """The fields a list call asked for; Dinero answers with those only."""
        declared = self._parameters(operation, "query").get("fields")
        if declared is None:
            return None
        default = self._resolve(declared[1].get("schema", {})).get("default", "")
        raw = request.url.params.get("fields", default)
        return frozenset(name.strip().lower() for name in raw.split(",") if name.strip())

    def _json_schema(self, operation: Operation, code: str) -> str | None:
        content = operation.definition.get("responses", {}).get(code, {}).get("content", {})
        for key, media in content.items():
            if _is_json(_media_type(key)) and "schema" in media:
                return f"{operation.pointer}/responses/{code}/content/{_escape(key)}/schema"
        return None

    def _parameters(
        self, operation: Operation, location: str
    ) -> dict[str, tuple[str, Mapping[str, Any]]]:
        """Declared parameters by name: pointer and object; the operation's win over the path's.

        Dinero's description declares every parameter inline, so `$ref`s are not followed here.
        """
        path_pointer = operation.pointer.rsplit("/", 1)[0]
        found: dict[str, tuple[str, Mapping[str, Any]]] = {}
        for owner in (path_pointer, operation.pointer):
            for index, parameter in enumerate(_at(self.document, owner).get("parameters", [])):
                if parameter.get("in") == location:
                    found[parameter["name"]] = (f"{owner}/parameters/{index}", parameter)
        return found

    def _resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        while isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
            node = _at(self.document, node["$ref"][1:])
        return node

    def _errors(self, schema_pointer: str, instance: Any) -> list[ValidationError]:
        validator = self._validators.get(schema_pointer)
        if validator is None:
            reference = {"$ref": f"{_SPEC_URI}#{quote(schema_pointer, safe='/~')}"}
            # Amounts are parsed as Decimal, which jsonschema already counts as a "number" (it
            # is a numbers.Number); "integer" stays strict, so 1000.0 is no account number.
            validator = Draft202012Validator(
                reference, registry=self._registry, format_checker=FORMAT_CHECKER
            )
            self._validators[schema_pointer] = validator
        return list(validator.iter_errors(instance))


class _Report:
    def __init__(self, operation: Operation) -> None:
        self._prefix = f"{operation.method} {operation.template}"
        self.violations: list[str] = []

    def add(self, where: str, message: str, pointer: str = "") -> None:
        at = f" at {pointer}" if pointer else ""
        if len(message) > 240:
            message = message[:240] + "…"
        self.violations.append(f"{self._prefix} {where}{at}: {message}")

    def add_errors(self, where: str, errors: Iterable[ValidationError]) -> None:
        described = sorted((_json_pointer(error.absolute_path), error.message) for error in errors)
        for pointer, message in described:
            self.add(where, message, pointer)


@dataclass(frozen=True)
class Exchange:
    request: httpx.Request
    response: httpx.Response | None  # None: not answered (yet, or the transport failed)
    violations: tuple[str, ...]

    def __str__(self) -> str:
        answer = self.response.status_code if self.response is not None else "no response"
        return f"{self.request.method} {self.request.url} -> {answer}"


class TrafficRecorder:
    """Validates and keeps every exchange of the clients it is attached to.

    Paths under `ignore_prefixes` (the sandbox's own control endpoints by default) are kept but
    not validated; add Visma Connect's paths if the same client also talks to the token endpoint.
    """

    def __init__(self, spec: Spec, *, ignore_prefixes: Sequence[str] = ("/_sandbox/",)) -> None:
        self.spec = spec
        self._ignore_prefixes = tuple(ignore_prefixes)
        self._answered: list[Exchange] = []
        self._unanswered: dict[int, Exchange] = {}

    def attach(self, client: httpx.AsyncClient) -> None:
        hooks = client.event_hooks
        hooks.setdefault("request", []).append(self._on_request)
        hooks.setdefault("response", []).append(self._on_response)
        client.event_hooks = hooks

    @property
    def exchanges(self) -> list[Exchange]:
        return [*self._answered, *self._unanswered.values()]

    @property
    def violations(self) -> list[str]:
        return [violation for exchange in self.exchanges for violation in exchange.violations]

    def assert_clean(self) -> None:
        dirty = [exchange for exchange in self.exchanges if exchange.violations]
        if not dirty:
            return
        lines = [f"{len(self.violations)} violation(s) of Dinero's OpenAPI description:"]
        for exchange in dirty:
            lines.append(str(exchange))
            lines.extend(f"  - {violation}" for violation in exchange.violations)
        raise AssertionError("\n".join(lines))

    async def _on_request(self, request: httpx.Request) -> None:
        await request.aread()  # a multipart body is a stream until read
        violations = () if self._ignored(request) else tuple(self.spec.validate_request(request))
        self._unanswered[id(request)] = Exchange(request, None, violations)

    async def _on_response(self, response: httpx.Response) -> None:
        await response.aread()
        request = response.request
        sent = self._unanswered.pop(id(request), None)
        violations = sent.violations if sent is not None else ()
        if not self._ignored(request):
            if sent is None:
                violations = tuple(self.spec.validate_request(request))
            violations += tuple(self.spec.validate_response(request, response))
        self._answered.append(Exchange(request, response, violations))

    def _ignored(self, request: httpx.Request) -> bool:
        return request.url.path.startswith(self._ignore_prefixes)


def _match(template_parts: Sequence[str], parts: Sequence[str]) -> dict[str, str] | None:
    if len(template_parts) != len(parts):
        return None
    values: dict[str, str] = {}
    for wanted, got in zip(template_parts, parts, strict=True):
        if wanted.startswith("{") and wanted.endswith("}"):
            if not got:
                return None
            values[wanted[1:-1]] = got
        elif wanted != got:
            return None
    return values


def _typed(raw: str, types: set[str]) -> object:
    """A path or query string as the value its schema types it as, when it reads as one."""
    if "integer" in types and _INTEGER.fullmatch(raw):
        return int(raw)
    if "number" in types and _NUMBER.fullmatch(raw):
        return Decimal(raw)
    if "boolean" in types and raw in ("true", "false"):
        return raw == "true"
    return raw


def _types(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def _left_out(error: ValidationError, selected: frozenset[str]) -> bool:
    """A required property missing from an object that a `fields` selection shaped."""
    if error.validator != "required" or not isinstance(error.instance, dict):
        return False
    if not isinstance(error.validator_value, list):
        return False
    if not any(str(key).lower() in selected for key in error.instance):
        return False  # not an object the selection applies to (e.g. Pagination)
    for name in error.validator_value:
        if error.message == f"{name!r} is a required property":
            return str(name).lower() not in selected
    return False


def _parse_json(body: bytes) -> Any:
    return json.loads(
        body, parse_float=Decimal, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"repeated keys {repeated}")
    return dict(pairs)


def _part_names(content_type: str, body: bytes) -> list[str] | None:
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return None
    names = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        names.append(name if isinstance(name, str) else "")
    return names


def _media_type(content_type: str | None) -> str:
    media_type = (content_type or "").split(";")[0].strip().lower()
    # Dinero's description spells the multipart type "multipart/formdata".
    return "multipart/form-data" if media_type == "multipart/formdata" else media_type


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _is_int32(raw: str) -> bool:
    return bool(_INTEGER.fullmatch(raw)) and _INT32[0] <= int(raw) <= _INT32[1]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _json_pointer(path: Iterable[str | int]) -> str:
    return "".join(f"/{_escape(str(token))}" for token in path)


def _at(document: Any, pointer: str) -> Any:
    node = document
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


# The formats the description uses (and "date"), checked without jsonschema's optional extras,
# which would otherwise skip date-time silently when rfc3339-validator is not installed.
FORMAT_CHECKER = FormatChecker(formats=())
_DATE_TIME = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", re.ASCII | re.IGNORECASE
)
_DATE = re.compile(r"\d{4}-\d\d-\d\d", re.ASCII)


@FORMAT_CHECKER.checks("uuid")
def _is_uuid(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    try:
        uuid.UUID(instance)
    except ValueError:
        return False
    return len(instance) == 36 and all(instance[index] == "-" for index in (8, 13, 18, 23))


@FORMAT_CHECKER.checks("date-time")
def _is_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _DATE_TIME.fullmatch(instance):
        return False
    try:
        datetime.fromisoformat(instance.upper())
    except ValueError:
        return False
    return True


@FORMAT_CHECKER.checks("date")
def _is_date(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    try:
        date.fromisoformat(instance)
    except ValueError:
        return False
    return bool(_DATE.fullmatch(instance))


@FORMAT_CHECKER.checks("int32")
def _is_int32_value(instance: object) -> bool:
    if not isinstance(instance, int) or isinstance(instance, bool):
        return True
    return _INT32[0] <= instance <= _INT32[1]


@FORMAT_CHECKER.checks("int64")
def _is_int64_value(instance: object) -> bool:
    if not isinstance(instance, int) or isinstance(instance, bool):
        return True
    return -(2**63) <= instance <= 2**63 - 1
