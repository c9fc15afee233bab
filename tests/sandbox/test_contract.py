"""Contract: every body the sandbox accepted is valid for Klaviyo's published OpenAPI spec."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.fixtures.sandbox import RECORDED_REQUESTS, SandboxControl
from tests.sandbox import bodies

SPEC_PATH = Path(__file__).resolve().parents[2] / "../shared/klaviyo/openapi/stable.json"
pytestmark = [
    pytest.mark.contract,
    pytest.mark.skipif(
        not SPEC_PATH.exists(), reason=f"Klaviyo OpenAPI spec not found at {SPEC_PATH}"
    ),
]
_PARAM = re.compile(r"\{[^}]*\}")


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


def normalize(path: str) -> str:
    return _PARAM.sub("{}", path.rstrip("/"))


# OpenAPI keywords that annotate a schema and mean nothing to a validator.
_ANNOTATIONS = ("nullable", "example", "description")
# Keywords whose value is one schema, a list of schemas, or a map of names to schemas.
_ONE_SCHEMA = ("items", "additionalProperties", "not")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_MAPS = ("properties",)


def to_json_schema(node: Any, depth: int = 0) -> Any:
    """Resolve $refs and turn OpenAPI 3.0 `nullable` into JSON Schema's null type.

    Only schema keywords are rewritten: a property literally named `description` or `example`
    inside `properties` is a field like any other and is checked; `enum` and `default` values
    are data and are kept as they are.
    """
    if depth > 40:
        raise RecursionError("schema nests too deeply")
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return to_json_schema(spec()["components"]["schemas"][name], depth + 1)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ANNOTATIONS:
            continue
        if key in _ONE_SCHEMA and isinstance(value, dict):
            out[key] = to_json_schema(value, depth + 1)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [to_json_schema(item, depth + 1) for item in value]
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: to_json_schema(sub, depth + 1) for name, sub in value.items()}
        else:
            out[key] = value
    if node.get("nullable"):
        if "type" in out and "enum" not in out:
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


def request_schema(method: str, path: str) -> dict[str, Any] | None:
    wanted = normalize(path)
    for spec_path, operations in spec()["paths"].items():
        if normalize(spec_path) != wanted:
            continue
        operation = operations.get(method.lower())
        if operation is None or "requestBody" not in operation:
            return None
        content = operation["requestBody"]["content"]
        return to_json_schema(next(iter(content.values()))["schema"])
    return None


def assert_valid(method: str, path: str, body: Any) -> None:
    schema = request_schema(method, path)
    assert schema is not None, f"the spec has no request body for {method} {path}"
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(body), key=lambda e: e.path)
    assert not errors, f"{method} {path}: " + "; ".join(
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
    )


ITEM_ID = "$custom:::$default:::c-1"
CATEGORY_ID = "$custom:::$default:::cat-1"
CANONICAL: list[tuple[str, str, Any]] = [
    (
        "POST",
        "/api/profile-import",
        bodies.profile(
            "k@example.com", first_name="K", location={"city": "Oslo", "latitude": 59.9}
        ),
    ),
    (
        "POST",
        "/api/profiles",
        bodies.profile("k2@example.com", phone_number="+12015550123", properties={"vip": True}),
    ),
    (
        "POST",
        "/api/profile-bulk-import-jobs",
        bodies.bulk_import([{"email": "k3@example.com", "external_id": "k3"}]),
    ),
    (
        "POST",
        "/api/profile-subscription-bulk-create-jobs",
        bodies.subscribe(["k@example.com"], historical=True),
    ),
    ("POST", "/api/profile-subscription-bulk-delete-jobs", bodies.unsubscribe(["k@example.com"])),
    ("POST", "/api/profile-suppression-bulk-create-jobs", bodies.suppression(["k2@example.com"])),
    (
        "POST",
        "/api/profile-suppression-bulk-delete-jobs",
        bodies.suppression(["k2@example.com"], True),
    ),
    (
        "POST",
        "/api/events",
        bodies.event(
            "Placed Order",
            {"email": "k@example.com"},
            value=9.5,
            unique_id="o1",
            time="2025-01-01T00:00:00+00:00",
        ),
    ),
    (
        "POST",
        "/api/event-bulk-create-jobs",
        bodies.bulk_events(
            [
                bodies.bulk_event_entry(
                    {"external_id": "k3"}, [bodies.bulk_event_attrs("Viewed", unique_id="v1")]
                )
            ]
        ),
    ),
    ("POST", "/api/catalog-categories", bodies.category("cat-1")),
    ("POST", "/api/catalog-items", bodies.item("c-1", categories=[CATEGORY_ID])),
    ("POST", "/api/catalog-variants", bodies.variant("cv-1", ITEM_ID)),
    (
        "PATCH",
        f"/api/catalog-items/{ITEM_ID}",
        {"data": {"type": "catalog-item", "id": ITEM_ID, "attributes": {"price": 3.0}}},
    ),
    (
        "POST",
        f"/api/catalog-items/{ITEM_ID}/relationships/categories",
        {"data": [{"type": "catalog-category", "id": CATEGORY_ID}]},
    ),
    (
        "POST",
        "/api/catalog-item-bulk-create-jobs",
        bodies.catalog_job("item", "create", [bodies.item("c-2")["data"]]),
    ),
    (
        "POST",
        "/api/catalog-variant-bulk-create-jobs",
        bodies.catalog_job("variant", "create", [bodies.variant("cv-2", ITEM_ID)["data"]]),
    ),
    (
        "POST",
        "/api/catalog-category-bulk-create-jobs",
        bodies.catalog_job("category", "create", [bodies.category("cat-2")["data"]]),
    ),
    ("POST", "/api/coupons", bodies.coupon("KCOUPON")),
    ("POST", "/api/coupon-codes", {"data": bodies.coupon_code_data("KCOUPON", "K1")}),
    (
        "POST",
        "/api/coupon-code-bulk-create-jobs",
        bodies.coupon_code_job([bodies.coupon_code_data("KCOUPON", "K2")]),
    ),
    (
        "POST",
        "/api/webhooks",
        bodies.webhook("https://store.example.com/hooks", "s", ["event:klaviyo.bounced_email"]),
    ),
]


def _spec_path_for(path: str) -> str:
    return path.replace(ITEM_ID, "{id}")


@pytest.mark.parametrize(
    ("method", "path", "body"), CANONICAL, ids=[f"{m} {p}" for m, p, _ in CANONICAL]
)
def test_canonical_bodies_match_the_spec(method: str, path: str, body: Any) -> None:
    assert_valid(method, _spec_path_for(path), body)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/catalog-items", bodies.item("kw-1", description=12345), "description"),
        (
            "/api/catalog-variants",
            bodies.variant("kw-3", ITEM_ID, description={"a": 1}),
            "description",
        ),
    ],
    ids=["item-description", "variant-description"],
)
def test_a_field_named_like_a_schema_keyword_is_type_checked(
    path: str, body: Any, field: str
) -> None:
    with pytest.raises(AssertionError, match=f"/data/attributes/{field}"):
        assert_valid("POST", path, body)


def test_sandbox_accepts_the_canonical_bodies(sandbox: SandboxControl) -> None:
    for method, path, body in CANONICAL:
        response = sandbox.api.request(method, path, json=body)
        assert response.status_code < 300, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        if path.endswith("-jobs") or path == "/api/profile-import":
            sandbox.wait_jobs_done()


def test_spec_invalid_bodies_are_rejected(sandbox: SandboxControl) -> None:
    cases = [
        (
            "POST",
            "/api/catalog-items",
            {"data": {"type": "catalog-item", "attributes": {"external_id": "x", "title": "t"}}},
        ),
        ("POST", "/api/catalog-variants", bodies.variant("v", ITEM_ID, inventory_policy=7)),
        (
            "POST",
            "/api/events",
            {
                "data": {
                    "type": "event",
                    "attributes": {
                        "metric": {"data": {"type": "metric", "attributes": {"name": "M"}}}
                    },
                }
            },
        ),
    ]
    for method, path, body in cases:
        with pytest.raises(AssertionError):
            assert_valid(method, path, body)
        assert sandbox.api.request(method, path, json=body).status_code == 400, path


def test_every_accepted_request_of_the_session_matches_the_spec(sandbox: SandboxControl) -> None:
    sandbox.collect_recorded()
    if not RECORDED_REQUESTS:
        pytest.skip(
            "no sandbox traffic was recorded in this session; run it with the sandbox suite"
        )
    failures = []
    for record in RECORDED_REQUESTS:
        try:
            assert_valid(record["method"], record["path"], json.loads(record["body"]))
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, (
        f"{len(failures)} of {len(RECORDED_REQUESTS)} accepted bodies break the spec:\n"
        + "\n".join(failures[:10])
    )
