"""Catalog bulk jobs: create, update or delete up to 100 resources, with per-item errors."""

from __future__ import annotations

from types import GenericAlias
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from msgspec import UNSET, defstruct

from app.sandbox import catalog_model as model
from app.sandbox.catalog_model import KINDS, Kind, StructClass
from app.sandbox.jobs import MAX_JOBS_IN_PROGRESS, Job
from app.sandbox.jsonapi import ApiError, check_type, decode_body, document, invalid, self_link
from app.sandbox.ratelimit import throttled
from app.sandbox.runtime import account_of, read_body, runtime_of

MAX_PER_JOB = 100
_JOB_OPERATIONS = {
    ("item", "create"): ("bulk_create_catalog_items", "get_bulk_create_catalog_items_job"),
    ("item", "update"): ("bulk_update_catalog_items", "get_bulk_update_catalog_items_job"),
    ("item", "delete"): ("bulk_delete_catalog_items", "get_bulk_delete_catalog_items_job"),
    ("variant", "create"): ("bulk_create_catalog_variants", "get_bulk_create_variants_job"),
    ("variant", "update"): ("bulk_update_catalog_variants", "get_bulk_update_variants_job"),
    ("variant", "delete"): ("bulk_delete_catalog_variants", "get_bulk_delete_variants_job"),
    ("category", "create"): ("bulk_create_catalog_categories", "get_bulk_create_categories_job"),
    ("category", "update"): ("bulk_update_catalog_categories", "get_bulk_update_categories_job"),
    ("category", "delete"): ("bulk_delete_catalog_categories", "get_bulk_delete_categories_job"),
}


def _body_type(kind: Kind, action: str) -> StructClass:
    row = {
        "create": model.create_data_type,
        "update": model.update_data_type,
        "delete": model.delete_data_type,
    }[action](kind)
    rows = defstruct(
        f"{kind.name}_{action}_rows",
        [("data", GenericAlias(list, (row,)))],  # list[row], row a class built at run time
        forbid_unknown_fields=True,
    )
    attrs = defstruct(
        f"{kind.name}_{action}_attrs", [(kind.plural, rows)], forbid_unknown_fields=True
    )
    data = defstruct(
        f"{kind.name}_{action}_job",
        [("type", str), ("attributes", attrs)],
        forbid_unknown_fields=True,
    )
    return defstruct(f"{kind.name}_{action}_job_body", [("data", data)], forbid_unknown_fields=True)


def job_document(request: Request, job: Job, kind: Kind, path: str) -> dict[str, Any]:
    attributes = {k: v for k, v in job.attributes().items() if k != "started_at"}
    attributes["errors"] = job.errors
    link = self_link(request, f"{path}/{job.id}/")
    ids = [{"type": kind.type, "id": i} for i in job.result_ids]
    return {
        "type": job.type,
        "id": job.id,
        "attributes": attributes,
        "relationships": {kind.plural: {"data": ids}},
        "links": {"self": link},
    }


def _job_routes(kind: Kind, action: str) -> list[Any]:
    job_type = f"{kind.type}-bulk-{action}-job"
    path = f"/api/{job_type}s"
    create_op, read_op = _JOB_OPERATIONS[(kind.name, action)]
    body_type = _body_type(kind, action)
    apply = {"create": model.create, "update": model.update}.get(action)

    @post(path, opt={"operation": create_op}, name=create_op)
    async def submit(request: Request) -> Response:
        runtime, account = runtime_of(request), account_of(request)
        # Built at run time: its fields are known by name only.
        body: Any = decode_body(await read_body(request), body_type)
        check_type(body.data.type, job_type)
        rows = getattr(body.data.attributes, kind.plural).data
        pointer = f"/data/attributes/{kind.plural}/data"
        if len(rows) > MAX_PER_JOB:
            raise invalid(f"At most {MAX_PER_JOB} {kind.plural} may be sent per job.", pointer)
        if runtime.jobs.in_progress(account) >= MAX_JOBS_IN_PROGRESS:
            error = throttled(1)
            error.detail = f"At most {MAX_JOBS_IN_PROGRESS} bulk jobs may be in progress."
            raise error
        for i, row in enumerate(rows):
            check_type(row.type, kind.type, f"{pointer}/{i}/type")

        def work(job: Job) -> None:
            for i, row in enumerate(rows):
                try:
                    if apply is None:
                        model.delete(account, kind, row.id, f"{pointer}/{i}/id")
                        resource_id = row.id
                    else:
                        resource_id = apply(account, kind, row, f"{pointer}/{i}").id
                except ApiError as error:
                    job.add_error(error.code, error.detail, error.pointer or f"{pointer}/{i}")
                    continue
                job.completed_count += 1
                job.result_ids.append(resource_id)

        stalled = runtime.faults.match("POST", request.url.path, ("stall_jobs",)) is not None
        cancelled = runtime.faults.match("POST", request.url.path, ("cancel_jobs",)) is not None
        job = runtime.jobs.submit(job_type, account, len(rows), work, stalled, cancelled=cancelled)
        resource = job_document(request, job, kind, path)
        return document({"data": resource, "links": resource["links"]}, 202)

    @get(f"{path}/{{job_id:str}}", opt={"operation": read_op}, name=read_op)
    async def read(request: Request, job_id: FromPath[str]) -> Response:
        job = runtime_of(request).jobs.find(account_of(request), job_type, job_id)
        if job is None:
            raise ApiError(404, "not_found", f"A {job_type} with id {job_id} does not exist.")
        resource = job_document(request, job, kind, path)
        return document({"data": resource, "links": resource["links"]})

    return [submit, read]


ROUTES = [
    r
    for kind in KINDS
    for action in ("create", "update", "delete")
    for r in _job_routes(kind, action)
]

__all__ = ["ROUTES", "UNSET"]
