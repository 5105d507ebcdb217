"""The OpenAPI traffic validator, on hand-built requests and responses (no network)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.contract.openapi import (
    FORMAT_CHECKER,
    NotInSpec,
    Spec,
    TrafficRecorder,
    load_spec,
    openapi_recorder_fixture,
    require_spec,
)

API = "https://api.dinero.dk"
ORG = 1001
GUID = "6f0c1e9a-3b7d-4c2e-9f41-2a8d5e7b9c10"
OTHER_GUID = "0b2d4f6a-8c1e-4a3b-9d5f-7e9a1c3b5d7f"


@pytest.fixture
def spec() -> Spec:
    return require_spec()


def json_request(method: str, path: str, body: bytes | str) -> httpx.Request:
    content = body.encode() if isinstance(body, str) else body
    return httpx.Request(
        method, API + path, content=content, headers={"Content-Type": "application/json"}
    )


def json_response(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


def invoice(**changes: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "BaseAmountValue": 80,
        "Quantity": 1,
        "AccountNumber": 1000,
        "Discount": 0,
        "Description": "Mug",
        "Unit": "parts",
        "LineType": "Product",
    }
    body: dict[str, Any] = {
        "Guid": GUID,
        "ContactGuid": OTHER_GUID,
        "Date": "2025-03-01",
        "Currency": "DKK",
        "Language": "da-DK",
        "ExternalReference": "shop-1:order-42",
        "ShowLinesInclVat": False,
        "ProductLines": [line],
    }
    body.update(changes)
    return body


def create_invoice(body: dict[str, Any]) -> httpx.Request:
    return json_request("POST", f"/v1/{ORG}/invoices", json.dumps(body))


# Path matching


def test_a_literal_segment_beats_a_parameter(spec: Spec) -> None:
    fetch = spec.operation("POST", f"/v1/{ORG}/invoices/fetch")
    templates = spec.operation("GET", f"/v1/{ORG}/invoices/templates")
    read = spec.operation("GET", f"/v1/{ORG}/invoices/{GUID}")

    assert fetch.template == "/v1/{organizationId}/invoices/fetch"
    assert templates.template == "/v1/{organizationId}/invoices/templates"
    assert read.template == "/v1/{organizationId}/invoices/{guid}"
    assert read.path_values == {"organizationId": str(ORG), "guid": GUID}


def test_a_concrete_path_finds_its_template_and_values(spec: Spec) -> None:
    book = spec.operation("post", f"/v1/{ORG}/sales/creditnotes/{GUID}/book")

    assert (book.method, book.template) == (
        "POST",
        "/v1/{organizationId}/sales/creditnotes/{guid}/book",
    )
    assert book.path_values == {"organizationId": str(ORG), "guid": GUID}


def test_payments_are_listed_on_v2_and_registered_on_v1(spec: Spec) -> None:
    listing = spec.operation("GET", f"/v2/{ORG}/invoices/{GUID}/payments")
    assert listing.template == "/v2/{organizationId}/invoices/{guid}/payments"
    assert spec.operation("POST", f"/v1/{ORG}/invoices/{GUID}/payments").template.startswith("/v1/")

    with pytest.raises(NotInSpec, match=r"not in Dinero's API \(that path takes POST\)"):
        spec.operation("GET", f"/v1/{ORG}/invoices/{GUID}/payments")
    with pytest.raises(NotInSpec):
        spec.operation("POST", f"/v2/{ORG}/invoices/{GUID}/payments")


def test_an_unknown_path_or_method_is_a_violation(spec: Spec) -> None:
    unknown_path = httpx.Request("GET", f"{API}/v1/{ORG}/products")
    unknown_method = httpx.Request("PATCH", f"{API}/v1/{ORG}/invoices/{GUID}")
    trailing_slash = httpx.Request("GET", f"{API}/v1/organizations/")

    assert spec.validate_request(unknown_path) == [f"GET /v1/{ORG}/products: not in Dinero's API"]
    assert spec.validate_request(unknown_method) == [
        f"PATCH /v1/{ORG}/invoices/{GUID}: not in Dinero's API (that path takes DELETE, GET)"
    ]
    assert spec.validate_request(trailing_slash)
    assert spec.validate_response(unknown_path, httpx.Response(404)) == []


# Request bodies


def test_a_valid_invoice_passes(spec: Spec) -> None:
    assert spec.validate_request(create_invoice(invoice())) == []


def test_null_is_accepted_where_the_type_allows_it(spec: Spec) -> None:
    assert spec.validate_request(create_invoice(invoice(Comment=None, ContactGuid=None))) == []


def test_an_unknown_property_fails(spec: Spec) -> None:
    violations = spec.validate_request(create_invoice(invoice(OrderNumber="42")))

    assert violations == [
        "POST /v1/{organizationId}/invoices request body: "
        "Additional properties are not allowed ('OrderNumber' was unexpected)"
    ]


def test_names_are_case_sensitive(spec: Spec) -> None:
    body = invoice()
    body["externalReference"] = body.pop("ExternalReference")

    violations = spec.validate_request(create_invoice(body))

    assert len(violations) == 1
    assert "'externalReference' was unexpected" in violations[0]


def test_a_missing_required_property_fails(spec: Spec) -> None:
    body = invoice()
    del body["ProductLines"][0]["Discount"]

    violations = spec.validate_request(create_invoice(body))

    assert violations == [
        "POST /v1/{organizationId}/invoices request body at /ProductLines/0: "
        "'Discount' is a required property"
    ]


def test_a_wrong_type_fails(spec: Spec) -> None:
    body = invoice()
    body["ProductLines"][0]["AccountNumber"] = "1000"

    violations = spec.validate_request(create_invoice(body))

    assert violations == [
        "POST /v1/{organizationId}/invoices request body at /ProductLines/0/AccountNumber: "
        "'1000' is not of type 'integer'"
    ]


def test_a_malformed_guid_fails(spec: Spec) -> None:
    violations = spec.validate_request(
        create_invoice(invoice(Guid="6f0c1e9a3b7d4c2e9f412a8d5e7b9c10"))
    )

    assert len(violations) == 1
    assert "at /Guid: '6f0c1e9a3b7d4c2e9f412a8d5e7b9c10' is not a 'uuid'" in violations[0]


def test_decimal_amounts_are_numbers(spec: Spec) -> None:
    # Written the way the client writes a Decimal: its own digits, never through a float.
    body = json.dumps(invoice()).replace('"BaseAmountValue": 80', '"BaseAmountValue": 33.30')
    body = body.replace('"Quantity": 1', '"Quantity": 0.333333333333333333333')
    assert "33.30" in body and "0.333333333333333333333" in body

    assert spec.validate_request(json_request("POST", f"/v1/{ORG}/invoices", body)) == []


def test_an_integer_field_refuses_a_fraction(spec: Spec) -> None:
    body = json.dumps(invoice()).replace('"AccountNumber": 1000', '"AccountNumber": 1000.0')

    violations = spec.validate_request(json_request("POST", f"/v1/{ORG}/invoices", body))

    assert len(violations) == 1
    assert "AccountNumber: Decimal('1000.0') is not of type 'integer'" in violations[0]


def test_a_body_that_is_not_json_fails(spec: Spec) -> None:
    bodies = (
        '{"ProductLines": [',
        '{"ProductLines": [], "Guid": NaN}',
        # Dinero binds names case-insensitively, so a repeated name is ambiguous at best.
        f'{{"ProductLines": [], "Guid": "{GUID}", "Guid": "{OTHER_GUID}"}}',
    )
    for body in bodies:
        violations = spec.validate_request(json_request("POST", f"/v1/{ORG}/invoices", body))
        assert len(violations) == 1
        assert "request body: not JSON" in violations[0]


def test_a_body_where_none_is_declared_fails(spec: Spec) -> None:
    restore = json_request("POST", f"/v1/{ORG}/contacts/{GUID}/restore", "{}")

    assert spec.validate_request(restore) == [
        "POST /v1/{organizationId}/contacts/{guid}/restore request body: "
        "the operation takes none, but application/json was sent"
    ]


def test_an_undeclared_content_type_fails(spec: Spec) -> None:
    form = httpx.Request("POST", f"{API}/v1/{ORG}/invoices/{GUID}/book", data={"Timestamp": "1"})

    violations = spec.validate_request(form)

    assert violations == [
        "POST /v1/{organizationId}/invoices/{guid}/book request body: "
        "application/x-www-form-urlencoded is not declared (declared: application/json)"
    ]


def test_booking_payment_and_voucher_bodies(spec: Spec) -> None:
    book = json_request("POST", f"/v1/{ORG}/invoices/{GUID}/book", '{"Timestamp": "0000000A"}')
    book_lower = json_request("POST", f"/v1/{ORG}/invoices/{GUID}/book", '{"timestamp": "1"}')
    payment = {
        "Timestamp": "0000000B",
        "DepositAccountNumber": 55000,
        "Description": "Card payment",
        "Amount": 100,
        "RemainderIsFee": False,
        "ExternalReference": "shop-1:payment-7",
    }
    pay = json_request("POST", f"/v1/{ORG}/invoices/{GUID}/payments", json.dumps(payment))
    voucher = {
        "VoucherDate": "2025-03-01",
        "ExternalReference": "shop-1:fee-3",
        "FileGuid": OTHER_GUID,
        "Lines": [
            {"Description": "Fee", "AccountNumber": 55000, "BalancingAccountNumber": 1000,
             "Amount": 80, "AccountVatCode": None, "BalancingAccountVatCode": "U25"},
        ],
    }  # fmt: skip
    manual = json_request("POST", f"/v1/{ORG}/vouchers/manuel", json.dumps(voucher))

    assert spec.validate_request(book) == []
    assert spec.validate_request(pay) == []
    assert spec.validate_request(manual) == []
    assert len(spec.validate_request(book_lower)) == 2  # Timestamp missing, timestamp unexpected


def test_multipart_upload_needs_its_file_part(spec: Spec) -> None:
    pdf = ("receipt.pdf", b"%PDF-1.7 ...", "application/pdf")
    upload = httpx.Request("POST", f"{API}/v1/{ORG}/files", files={"file": pdf})
    misnamed = httpx.Request("POST", f"{API}/v1/{ORG}/files", files={"upload": pdf})

    assert spec.validate_request(upload) == []
    assert spec.validate_request(misnamed) == [
        "POST /v1/{organizationId}/files request body: part 'file' is missing",
        "POST /v1/{organizationId}/files request body: part 'upload' is not declared (['file'])",
    ]


# Path and query parameters


def test_path_parameters_are_typed(spec: Spec) -> None:
    bad_guid = httpx.Request("GET", f"{API}/v1/{ORG}/invoices/42")
    bad_org = httpx.Request("GET", f"{API}/v1/None/invoices/{GUID}")
    attachments = httpx.Request("GET", f"{API}/v1/acme/attachments/{GUID}")

    assert spec.validate_request(bad_guid) == [
        "GET /v1/{organizationId}/invoices/{guid} path parameter 'guid': '42' is not a 'uuid'"
    ]
    assert spec.validate_request(bad_org) == [
        "GET /v1/{organizationId}/invoices/{guid} path parameter 'organizationId': "
        "'None' is not an organisation id (an int32)"
    ]
    # Where the description itself says integer, the schema's own message is the one reported.
    assert spec.validate_request(attachments) == [
        "GET /v1/{organizationId}/attachments/{documentGuid} path parameter 'organizationId': "
        "'acme' is not of type 'integer'"
    ]


def test_declared_query_parameters_pass(spec: Spec) -> None:
    params: dict[str, str | int | bool] = {
        "queryFilter": "ExternalReference eq 'shop-1:order-42'",
        "fields": "Guid,Number,Status",
        "page": 0,
        "pageSize": 1000,
        "deletedOnly": False,
    }
    listing = httpx.Request("GET", f"{API}/v1/{ORG}/invoices", params=params)

    assert spec.validate_request(listing) == []


def test_query_parameter_names_and_types_are_checked(spec: Spec) -> None:
    params = {"PageSize": "10", "page": "first", "deletedOnly": "True", "top": "5"}
    listing = httpx.Request("GET", f"{API}/v1/{ORG}/contacts", params=params)

    assert spec.validate_request(listing) == [
        "GET /v1/{organizationId}/contacts query parameter 'PageSize': "
        "not declared (did you mean 'pageSize'?)",
        "GET /v1/{organizationId}/contacts query parameter 'page': "
        "'first' is not of type 'integer'",
        "GET /v1/{organizationId}/contacts query parameter 'deletedOnly': "
        "'True' is not of type 'boolean'",
        "GET /v1/{organizationId}/contacts query parameter 'top': not declared "
        "(declared: ['changesSince', 'deletedOnly', 'fields', 'page', 'pageSize', 'queryFilter'])",
    ]


def test_query_arrays_enums_and_repeats(spec: Spec) -> None:
    files = f"{API}/v1/{ORG}/files"
    listed = httpx.Request("GET", files, params=[("extensions", "pdf"), ("extensions", "png")])
    bad_status = httpx.Request("GET", files, params={"fileStatus": "Linked"})
    repeated = httpx.Request("GET", files, params=[("page", "0"), ("page", "1")])

    assert spec.validate_request(listed) == []
    assert spec.validate_request(bad_status) == [
        "GET /v1/{organizationId}/files query parameter 'fileStatus': "
        "'Linked' is not one of ['All', 'Unused', 'Used']"
    ]
    assert spec.validate_request(repeated) == [
        "GET /v1/{organizationId}/files query parameter 'page': "
        "given 2 times, but it takes one value"
    ]


# Responses


def test_a_created_response_passes_in_pascal_case_only(spec: Spec) -> None:
    request = create_invoice(invoice())
    created = {"Guid": GUID, "TimeStamp": "00000000000A1B2C"}

    assert spec.validate_response(request, json_response(200, created)) == []
    assert spec.validate_response(request, json_response(201, created)) == []
    assert spec.validate_response(request, json_response(200, {"guid": GUID})) == [
        "POST /v1/{organizationId}/invoices response 200: 'Guid' is a required property",
        "POST /v1/{organizationId}/invoices response 200: "
        "Additional properties are not allowed ('guid' was unexpected)",
    ]
    assert spec.validate_response(request, json_response(200, {"Guid": "42"})) == [
        "POST /v1/{organizationId}/invoices response 200 at /Guid: '42' is not a 'uuid'"
    ]


def test_a_2xx_without_the_declared_json_fails(spec: Spec) -> None:
    request = create_invoice(invoice())

    assert spec.validate_response(request, httpx.Response(204)) == [
        "POST /v1/{organizationId}/invoices response 204: expected a JSON body, got no content type"
    ]
    assert spec.validate_response(request, httpx.Response(200, text="OK")) == [
        "POST /v1/{organizationId}/invoices response 200: expected a JSON body, got text/plain"
    ]


def test_a_2xx_where_no_body_is_declared(spec: Spec) -> None:
    request = json_request("DELETE", f"/v1/{ORG}/invoices/{GUID}", '{"Timestamp": "1"}')

    assert spec.validate_response(request, httpx.Response(200)) == []
    assert spec.validate_response(request, json_response(200, {"Deleted": True})) == [
        "DELETE /v1/{organizationId}/invoices/{guid} response 200: "
        "Dinero declares no JSON body here, so nobody may rely on one"
    ]


def test_another_declared_content_type_is_not_json_checked(spec: Spec) -> None:
    request = httpx.Request("GET", f"{API}/v1/{ORG}/invoices/{GUID}")
    pdf = httpx.Response(200, content=b"%PDF", headers={"Content-Type": "application/octet-stream"})

    assert spec.validate_response(request, pdf) == []


def test_errors_only_need_to_be_json_when_they_say_so(spec: Spec) -> None:
    request = create_invoice(invoice())
    error = {"code": 58, "message": "Timestamp is stale", "validationErrors": {}}
    broken = httpx.Response(400, content=b"<html>", headers={"Content-Type": "application/json"})

    assert spec.validate_response(request, json_response(400, error)) == []
    assert (
        spec.validate_response(request, httpx.Response(429, text="API calls quota exceeded!")) == []
    )
    assert spec.validate_response(request, httpx.Response(404, html="<h1>Not found</h1>")) == []
    assert len(spec.validate_response(request, broken)) == 1


def test_date_time_format_is_checked(spec: Spec) -> None:
    request = httpx.Request("GET", f"{API}/v1/{ORG}/contacts/{GUID}")
    contact = {
        "ContactGuid": GUID,
        "Name": "Jens Hansen",
        "CountryKey": "DK",
        "IsPerson": True,
        "IsMember": False,
        "UseCvr": False,
        "IsDebitor": True,
        "IsCreditor": False,
        "CreatedAt": "2025-03-01T09:30:00.1234567Z",
        "UpdatedAt": "2025-03-01T10:30:00+01:00",
    }

    assert spec.validate_response(request, json_response(200, contact)) == []
    for not_rfc3339 in ("2025-03-01", "2025-03-01T09:30:00", "01-03-2025 09:30"):
        answer = json_response(200, contact | {"CreatedAt": not_rfc3339})
        assert spec.validate_response(request, answer) == [
            "GET /v1/{organizationId}/contacts/{guid} response 200 at /CreatedAt: "
            f"{not_rfc3339!r} is not a 'date-time'"
        ]


@pytest.mark.parametrize(
    ("value", "format_", "conforms"),
    [
        ("2025-03-01", "date", True),
        ("2025-02-29", "date", False),
        ("2025-3-1", "date", False),
        ("2025-03-01T09:30:00Z", "date-time", True),
        ("2025-03-01T25:30:00Z", "date-time", False),
        (GUID.upper(), "uuid", True),
        ("{" + GUID + "}", "uuid", False),
        (2**31 - 1, "int32", True),
        (2**31, "int32", False),
        (2**63, "int64", False),
    ],
)
def test_format_checks(value: object, format_: str, conforms: bool) -> None:
    assert FORMAT_CHECKER.conforms(value, format_) is conforms


def test_a_fields_selection_excuses_only_unselected_required_properties(spec: Spec) -> None:
    params = {"fields": "Guid,Number,Status"}
    request = httpx.Request("GET", f"{API}/v1/{ORG}/invoices", params=params)
    pagination = {"MaxPageSizeAllowed": 1000, "PageSize": 100, "Result": 1,
                  "ResultWithoutFilter": 1, "Page": 0}  # fmt: skip
    item = {"Guid": GUID, "Number": 7, "Status": "Booked"}

    page = {"Collection": [item], "Pagination": pagination}
    assert spec.validate_response(request, json_response(200, page)) == []

    short_pagination = {"Collection": [item], "Pagination": {"Page": 0}}
    assert len(spec.validate_response(request, json_response(200, short_pagination))) == 4

    without_number = {"Collection": [{"Guid": GUID, "Status": "Booked"}], "Pagination": pagination}
    assert spec.validate_response(request, json_response(200, without_number)) == [
        "GET /v1/{organizationId}/invoices response 200 at /Collection/0: "
        "'Number' is a required property"
    ]

    lower_case = {"Collection": [{"guid": GUID, "number": 7}], "Pagination": pagination}
    assert spec.validate_response(request, json_response(200, lower_case))


def test_without_fields_the_declared_default_selection_applies(spec: Spec) -> None:
    request = httpx.Request("GET", f"{API}/v1/{ORG}/accounts/entry")  # AccountNumber,Name,IsHidden
    accounts = [{"AccountNumber": 1000, "Name": "Salg af varer", "IsHidden": False}]

    assert spec.validate_response(request, json_response(200, accounts)) == []
    assert spec.validate_response(request, json_response(200, [{"AccountNumber": 1000}])) == [
        "GET /v1/{organizationId}/accounts/entry response 200 at /0: "
        "'IsHidden' is a required property"
    ]


# Recording a client's traffic


async def test_the_recorder_validates_every_exchange(spec: Spec) -> None:
    def dinero(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/invoices"):
            return httpx.Response(200, json={"Guid": GUID, "timeStamp": "1"})
        if request.url.path.endswith("/files"):
            return httpx.Response(200, json={"FileGuid": OTHER_GUID})
        return httpx.Response(200, json={"reset": True})

    recorder = TrafficRecorder(spec)
    async with httpx.AsyncClient(base_url=API, transport=httpx.MockTransport(dinero)) as client:
        recorder.attach(client)
        await client.post(f"/v1/{ORG}/invoices", json=invoice())
        await client.post(f"/v1/{ORG}/files", files={"file": ("a.pdf", b"%PDF", "application/pdf")})
        await client.post("/_sandbox/reset")

    assert [str(exchange) for exchange in recorder.exchanges] == [
        f"POST {API}/v1/{ORG}/invoices -> 200",
        f"POST {API}/v1/{ORG}/files -> 200",
        f"POST {API}/_sandbox/reset -> 200",
    ]
    assert recorder.violations == [
        "POST /v1/{organizationId}/invoices response 200: "
        "Additional properties are not allowed ('timeStamp' was unexpected)"
    ]
    with pytest.raises(AssertionError) as raised:
        recorder.assert_clean()
    assert str(raised.value) == (
        "1 violation(s) of Dinero's OpenAPI description:\n"
        f"POST {API}/v1/{ORG}/invoices -> 200\n"
        "  - POST /v1/{organizationId}/invoices response 200: "
        "Additional properties are not allowed ('timeStamp' was unexpected)"
    )


async def test_the_recorder_keeps_requests_that_got_no_answer(spec: Spec) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    recorder = TrafficRecorder(spec)
    async with httpx.AsyncClient(
        base_url=API, transport=httpx.MockTransport(unreachable)
    ) as client:
        recorder.attach(client)
        with pytest.raises(httpx.ConnectError):
            await client.get(f"/v1/{ORG}/contact")

    [exchange] = recorder.exchanges
    assert exchange.response is None
    assert recorder.violations == [f"GET /v1/{ORG}/contact: not in Dinero's API"]
    with pytest.raises(AssertionError, match="-> no response"):
        recorder.assert_clean()


async def test_a_clean_recording_passes(spec: Spec) -> None:
    def dinero(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"Id": ORG, "Name": "Kaffebaren ApS", "IsPro": True}])

    recorder = openapi_recorder_fixture()
    async with httpx.AsyncClient(base_url=API, transport=httpx.MockTransport(dinero)) as client:
        recorder.attach(client)
        response = await client.get("/v1/organizations", params={"fields": "Id,Name,IsPro"})

    assert response.json()[0]["Name"] == "Kaffebaren ApS"
    assert len(recorder.exchanges) == 1
    recorder.assert_clean()


# The description itself


def test_a_missing_description_skips_with_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "shared" / "dinero" / "openapi-v1.json"

    assert load_spec(missing) is None
    with pytest.raises(pytest.skip.Exception, match="Dinero's OpenAPI description is not at"):
        require_spec(missing)
    with pytest.raises(pytest.skip.Exception) as skipped:
        openapi_recorder_fixture(missing)
    assert str(missing) in str(skipped.value)


def test_the_implicit_flow_loses_its_token_url(spec: Spec) -> None:
    flows = spec.document["components"]["securitySchemes"]["OAuth2"]["flows"]

    assert "tokenUrl" not in flows["implicit"]
    assert flows["implicit"]["authorizationUrl"] == "https://connect.visma.com/connect/authorize"


def test_every_schema_in_the_description_is_valid_json_schema(spec: Spec) -> None:
    for name, schema in spec.document["components"]["schemas"].items():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as error:  # pragma: no cover - the message is the point
            pytest.fail(f"components/schemas/{name}: {error}")


def test_every_reference_in_the_description_resolves(spec: Spec) -> None:
    def references(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [ref for value in node.values() for ref in references(value)]
        if isinstance(node, list):
            return [ref for value in node for ref in references(value)]
        return []

    schemas = spec.document["components"]["schemas"]
    found = references(spec.document)
    assert found
    for reference in found:
        prefix, _, name = reference.rpartition("/")
        assert prefix == "#/components/schemas" and name in schemas, reference


def test_every_template_parameter_is_declared(spec: Spec) -> None:
    for template, item in spec.document["paths"].items():
        wanted = {part[1:-1] for part in template.split("/") if part.startswith("{")}
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == wanted, f"{method.upper()} {template}"
