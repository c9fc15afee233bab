"""Bulk profile import: jobs of up to 10,000 profiles; failed rows become import errors."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath
from msgspec import UNSET, Struct, UnsetType

from app.sandbox.identity import (
    ImportAttributes,
    ProfileMeta,
    apply_meta,
    check_identifiers,
    check_profile_size,
)
from app.sandbox.jobs import Job
from app.sandbox.jsonapi import (
    ApiError,
    check_type,
    decode_body,
    document,
    invalid,
    next_link,
    page_cursor,
    page_size,
    self_link,
)
from app.sandbox.profiles import upsert_profile
from app.sandbox.runtime import account_of, read_body, runtime_of

JOB_TYPE = "profile-bulk-import-job"
PATH = "/api/profile-bulk-import-jobs"
MAX_PROFILES = 10_000
MAX_PAYLOAD_BYTES = 5 * 1024 * 1024


class ImportRow(Struct, forbid_unknown_fields=True):
    type: str
    attributes: ImportAttributes
    id: str | None | UnsetType = UNSET
    meta: ProfileMeta | UnsetType = UNSET


class ImportRows(Struct, forbid_unknown_fields=True):
    data: list[ImportRow]


class ImportJobAttributes(Struct, forbid_unknown_fields=True):
    profiles: ImportRows


class ImportJobData(Struct, forbid_unknown_fields=True):
    type: str
    attributes: ImportJobAttributes
    relationships: dict[str, Any] | UnsetType = UNSET


class ImportJobBody(Struct, forbid_unknown_fields=True):
    data: ImportJobData


def job_resource(request: Request, job: Job) -> dict[str, Any]:
    link = self_link(request, f"{PATH}/{job.id}/")
    return {
        "type": JOB_TYPE,
        "id": job.id,
        "attributes": job.attributes(),
        "relationships": {
            "lists": {"data": []},
            "import-errors": {"links": {"related": f"{link}import-errors/"}},
        },
        "links": {"self": link},
    }


@post(PATH, opt={"operation": "bulk_import_profiles"})
async def bulk_import(request: Request) -> Response:
    runtime, account = runtime_of(request), account_of(request)
    raw = await read_body(request)
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise ApiError(413, "request_too_large", "The payload may not exceed 5 MB.")
    body = decode_body(raw, ImportJobBody)
    check_type(body.data.type, JOB_TYPE)
    rows = body.data.attributes.profiles.data
    pointer = "/data/attributes/profiles/data"
    if not rows:
        raise invalid("At least one profile is required.", pointer)
    if len(rows) > MAX_PROFILES:
        raise invalid(f"At most {MAX_PROFILES} profiles may be imported per job.", pointer)
    for i, row in enumerate(rows):
        check_type(row.type, "profile", f"{pointer}/{i}/type")

    def work(job: Job) -> None:
        for i, row in enumerate(rows):
            row_pointer = f"{pointer}/{i}"
            try:
                check_identifiers(row.attributes, f"{row_pointer}/attributes")
                check_profile_size(row.attributes, f"{row_pointer}/attributes")
                profile, _ = upsert_profile(account, row.id or None, row.attributes, row_pointer)
            except ApiError as error:
                job.add_error(
                    error.code,
                    error.detail,
                    error.pointer or row_pointer,
                    msgspec.to_builtins(row.attributes),
                )
                continue
            apply_meta(profile, row.meta)
            job.completed_count += 1
            job.result_ids.append(profile.id)

    stalled = runtime.faults.match("POST", request.url.path, ("stall_jobs",)) is not None
    cancelled = runtime.faults.match("POST", request.url.path, ("cancel_jobs",)) is not None
    job = runtime.jobs.submit(JOB_TYPE, account, len(rows), work, stalled, cancelled=cancelled)
    resource = job_resource(request, job)
    return document({"data": resource, "links": resource["links"]}, 202)


def _find(request: Request, job_id: str) -> Job:
    job = runtime_of(request).jobs.find(account_of(request), JOB_TYPE, job_id)
    if job is None:
        raise ApiError(
            404, "not_found", f"A profile bulk import job with id {job_id} does not exist."
        )
    return job


@get(f"{PATH}/{{job_id:str}}", opt={"operation": "get_bulk_import_profiles_job"})
async def get_import_job(request: Request, job_id: FromPath[str]) -> Response:
    resource = job_resource(request, _find(request, job_id))
    return document({"data": resource, "links": resource["links"]})


@get(
    f"{PATH}/{{job_id:str}}/import-errors",
    opt={"operation": "get_errors_for_bulk_import_profiles_job"},
)
async def get_import_errors(request: Request, job_id: FromPath[str]) -> Response:
    job = _find(request, job_id)
    size, offset = page_size(request, 20, 100), page_cursor(request)
    links: dict[str, str | None] = {"self": str(request.url), "next": None, "prev": None}
    if len(job.import_errors) > offset + size:
        links["next"] = next_link(request, offset + size)
    return document({"data": job.import_errors[offset : offset + size], "links": links})


@get(
    f"{PATH}/{{job_id:str}}/relationships/profiles",
    opt={"operation": "get_profile_ids_for_bulk_import_profiles_job"},
)
async def get_import_profile_ids(request: Request, job_id: FromPath[str]) -> Response:
    job = _find(request, job_id)
    size, offset = page_size(request, 20, 100), page_cursor(request)
    # Klaviyo promises no order here; by profile id, as listed, it differs from the job's rows.
    profile_ids = sorted(set(job.result_ids))
    links: dict[str, str | None] = {"self": str(request.url), "next": None, "prev": None}
    if len(profile_ids) > offset + size:
        links["next"] = next_link(request, offset + size)
    data = [{"type": "profile", "id": pid} for pid in profile_ids[offset : offset + size]]
    return document({"data": data, "links": links})


ROUTES = [bulk_import, get_import_job, get_import_errors, get_import_profile_ids]
