"""Coupons and coupon codes: create, read, delete, and coupon-code bulk create jobs."""

from __future__ import annotations

import time
from typing import Any, Literal

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath
from msgspec import UNSET, Struct, UnsetType

from app.sandbox.jobs import Job
from app.sandbox.jsonapi import (
    ApiError,
    check_type,
    decode_body,
    document,
    invalid,
    iso,
    parse_time,
    self_link,
)
from app.sandbox.runtime import account_of, read_body, runtime_of
from app.sandbox.store import Account, Resource

CODE_JOB_TYPE = "coupon-code-bulk-create-job"
CODE_JOB_PATH = "/api/coupon-code-bulk-create-jobs"
MAX_CODES_PER_JOB = 1000


class CouponAttributes(Struct, forbid_unknown_fields=True):
    external_id: str
    description: str | None | UnsetType = UNSET
    monitor_configuration: dict[str, Any] | None | UnsetType = UNSET


class CouponData(Struct, forbid_unknown_fields=True):
    type: str
    attributes: CouponAttributes


class CouponBody(Struct, forbid_unknown_fields=True):
    data: CouponData


class CouponUpdateAttributes(Struct, forbid_unknown_fields=True):
    description: str | None | UnsetType = UNSET
    monitor_configuration: dict[str, Any] | None | UnsetType = UNSET


class CouponUpdateData(Struct, forbid_unknown_fields=True):
    type: str
    id: str
    attributes: CouponUpdateAttributes


class CouponUpdateBody(Struct, forbid_unknown_fields=True):
    data: CouponUpdateData


class CodeAttributes(Struct, forbid_unknown_fields=True):
    unique_code: str
    expires_at: str | None | UnsetType = UNSET


class CouponRef(Struct, forbid_unknown_fields=True):
    type: Literal["coupon"]
    id: str


class CouponRelation(Struct, forbid_unknown_fields=True):
    data: CouponRef


class CodeRelations(Struct, forbid_unknown_fields=True):
    coupon: CouponRelation


class CodeData(Struct, forbid_unknown_fields=True):
    type: str
    attributes: CodeAttributes
    relationships: CodeRelations


class CodeBody(Struct, forbid_unknown_fields=True):
    data: CodeData


class CodeRows(Struct, forbid_unknown_fields=True):
    data: list[CodeData]


class CodeJobAttributes(Struct, forbid_unknown_fields=True):
    coupon_codes: CodeRows = msgspec.field(name="coupon-codes")


class CodeJobData(Struct, forbid_unknown_fields=True):
    type: str
    attributes: CodeJobAttributes


class CodeJobBody(Struct, forbid_unknown_fields=True):
    data: CodeJobData


def coupon_resource(request: Request, coupon: Resource) -> dict[str, Any]:
    attributes = {
        "external_id": coupon.id,
        "description": coupon.attributes.get("description"),
        "monitor_configuration": coupon.attributes.get("monitor_configuration"),
    }
    return {
        "type": "coupon",
        "id": coupon.id,
        "attributes": attributes,
        "links": {"self": self_link(request, f"/api/coupons/{coupon.id}/")},
    }


def code_resource(request: Request, code: Resource) -> dict[str, Any]:
    coupon_id = code.attributes["coupon_id"]
    return {
        "type": "coupon-code",
        "id": code.id,
        "attributes": {
            "unique_code": code.attributes["unique_code"],
            "expires_at": iso(code.attributes.get("expires_at")),
            "status": code.attributes.get("status", "UNASSIGNED"),
        },
        "relationships": {"coupon": {"data": {"type": "coupon", "id": coupon_id}}},
        "links": {"self": self_link(request, f"/api/coupon-codes/{code.id}/")},
    }


@post("/api/coupons", opt={"operation": "create_coupon"})
async def create_coupon(request: Request) -> Response:
    account = account_of(request)
    body = decode_body(await read_body(request), CouponBody)
    check_type(body.data.type, "coupon")
    external_id = body.data.attributes.external_id
    if not external_id or len(external_id) > 64 or not external_id.replace("_", "").isalnum():
        raise invalid(
            "external_id must be 1-64 letters, digits or underscores.",
            "/data/attributes/external_id",
        )
    if external_id in account.coupons:
        raise ApiError(
            409,
            "conflict",
            f"A coupon with id {external_id} already exists.",
            "/data/attributes/external_id",
        )
    coupon = Resource(external_id, msgspec.to_builtins(body.data.attributes), time.time())
    account.coupons[external_id] = coupon
    return document({"data": coupon_resource(request, coupon)}, 201)


def _find(store: dict[str, Resource], what: str, resource_id: str) -> Resource:
    if resource_id not in store:
        raise ApiError(404, "not_found", f"A {what} with id {resource_id} does not exist.")
    return store[resource_id]


@get("/api/coupons/{coupon_id:str}", opt={"operation": "get_coupon"})
async def get_coupon(request: Request, coupon_id: FromPath[str]) -> Response:
    coupon = _find(account_of(request).coupons, "coupon", coupon_id)
    return document({"data": coupon_resource(request, coupon)})


@get("/api/coupons", opt={"operation": "get_coupons"})
async def list_coupons(request: Request) -> Response:
    data = [coupon_resource(request, c) for c in account_of(request).coupons.values()]
    return document({"data": data, "links": {"self": str(request.url), "next": None}})


@patch("/api/coupons/{coupon_id:str}", opt={"operation": "update_coupon"})
async def update_coupon(request: Request, coupon_id: FromPath[str]) -> Response:
    account = account_of(request)
    body = decode_body(await read_body(request), CouponUpdateBody)
    check_type(body.data.type, "coupon")
    if body.data.id != coupon_id:
        raise ApiError(
            409, "conflict", "The id in the body does not match the id in the path.", "/data/id"
        )
    coupon = _find(account.coupons, "coupon", coupon_id)
    # Absent attributes are left as they are; a null clears.
    coupon.attributes.update(msgspec.to_builtins(body.data.attributes))
    return document({"data": coupon_resource(request, coupon)})


@delete("/api/coupons/{coupon_id:str}", opt={"operation": "delete_coupon"}, status_code=204)
async def delete_coupon(request: Request, coupon_id: FromPath[str]) -> None:
    account = account_of(request)
    _find(account.coupons, "coupon", coupon_id)
    del account.coupons[coupon_id]
    for code_id in [
        c.id for c in account.coupon_codes.values() if c.attributes["coupon_id"] == coupon_id
    ]:
        del account.coupon_codes[code_id]
    return None


def add_code(account: Account, data: CodeData, pointer: str) -> Resource:
    check_type(data.type, "coupon-code", f"{pointer}/type")
    coupon_id = data.relationships.coupon.data.id
    if coupon_id not in account.coupons:
        raise ApiError(
            404,
            "not_found",
            f"A coupon with id {coupon_id} does not exist.",
            f"{pointer}/relationships/coupon/data/id",
        )
    code = data.attributes.unique_code
    if not code or len(code) > 255:
        raise invalid("unique_code must be 1-255 characters.", f"{pointer}/attributes/unique_code")
    code_id = f"{coupon_id}-{code}"
    if code_id in account.coupon_codes:
        raise ApiError(
            409,
            "conflict",
            f"The coupon code {code} already exists.",
            f"{pointer}/attributes/unique_code",
        )
    expires = data.attributes.expires_at
    expires_at = parse_time(expires, f"{pointer}/attributes/expires_at") if expires else None
    resource = Resource(
        code_id,
        {
            "unique_code": code,
            "coupon_id": coupon_id,
            "expires_at": expires_at,
            "status": "UNASSIGNED",
        },
        time.time(),
    )
    account.coupon_codes[code_id] = resource
    return resource


@post("/api/coupon-codes", opt={"operation": "create_coupon_code"})
async def create_code(request: Request) -> Response:
    body = decode_body(await read_body(request), CodeBody)
    check_type(body.data.type, "coupon-code")
    code = add_code(account_of(request), body.data, "/data")
    # The spec gives 200 for this create, not 201.
    return document({"data": code_resource(request, code)}, 200)


@get("/api/coupon-codes/{code_id:str}", opt={"operation": "get_coupon_code"})
async def get_code(request: Request, code_id: FromPath[str]) -> Response:
    code = _find(account_of(request).coupon_codes, "coupon code", code_id)
    return document({"data": code_resource(request, code)})


@delete("/api/coupon-codes/{code_id:str}", opt={"operation": "delete_coupon_code"}, status_code=204)
async def delete_code(request: Request, code_id: FromPath[str]) -> None:
    account = account_of(request)
    _find(account.coupon_codes, "coupon code", code_id)
    del account.coupon_codes[code_id]
    return None


def code_job_document(request: Request, job: Job) -> dict[str, Any]:
    attributes = {k: v for k, v in job.attributes().items() if k != "started_at"}
    attributes["errors"] = job.errors
    ids = [{"type": "coupon-code", "id": i} for i in job.result_ids]
    return {
        "type": CODE_JOB_TYPE,
        "id": job.id,
        "attributes": attributes,
        "relationships": {"coupon-codes": {"data": ids}},
        "links": {"self": self_link(request, f"{CODE_JOB_PATH}/{job.id}/")},
    }


@post(CODE_JOB_PATH, opt={"operation": "bulk_create_coupon_codes"})
async def bulk_create_codes(request: Request) -> Response:
    runtime, account = runtime_of(request), account_of(request)
    body = decode_body(await read_body(request), CodeJobBody)
    check_type(body.data.type, CODE_JOB_TYPE)
    rows = body.data.attributes.coupon_codes.data
    pointer = "/data/attributes/coupon-codes/data"
    if len(rows) > MAX_CODES_PER_JOB:
        raise invalid(f"At most {MAX_CODES_PER_JOB} coupon codes may be sent per job.", pointer)

    def work(job: Job) -> None:
        for i, row in enumerate(rows):
            try:
                job.result_ids.append(add_code(account, row, f"{pointer}/{i}").id)
                job.completed_count += 1
            except ApiError as error:
                job.add_error(error.code, error.detail, error.pointer or f"{pointer}/{i}")

    stalled = runtime.faults.match("POST", request.url.path, ("stall_jobs",)) is not None
    cancelled = runtime.faults.match("POST", request.url.path, ("cancel_jobs",)) is not None
    job = runtime.jobs.submit(CODE_JOB_TYPE, account, len(rows), work, stalled, cancelled=cancelled)
    resource = code_job_document(request, job)
    return document({"data": resource, "links": resource["links"]}, 202)


@get(f"{CODE_JOB_PATH}/{{job_id:str}}", opt={"operation": "get_bulk_create_coupon_codes_job"})
async def get_code_job(request: Request, job_id: FromPath[str]) -> Response:
    job = runtime_of(request).jobs.find(account_of(request), CODE_JOB_TYPE, job_id)
    if job is None:
        raise ApiError(404, "not_found", f"A coupon code bulk create job {job_id} does not exist.")
    resource = code_job_document(request, job)
    return document({"data": resource, "links": resource["links"]})


ROUTES = [
    create_coupon,
    get_coupon,
    list_coupons,
    update_coupon,
    delete_coupon,
    create_code,
    get_code,
    delete_code,
    bulk_create_codes,
    get_code_job,
]
