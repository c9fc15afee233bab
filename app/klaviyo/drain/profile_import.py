"""Profiles into Klaviyo: profile-import for a few rows, a bulk import job for a backlog.

A 409 duplicate_profile (the identifiers name two Klaviyo profiles) is settled in a fixed,
bounded order: PATCH the profile Klaviyo names with every attribute; if that conflicts too,
without e-mail and phone; then without any identifier. The profile patched is the one recorded,
and the identifiers left out are noted in last_error. Never more than three PATCHes, never a loop.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import httpx
import structlog

from app.klaviyo.drain.context import (
    BULK_IMPORT_PROFILES,
    GET_IMPORT_ERRORS,
    GET_IMPORT_JOB,
    GET_IMPORT_PROFILE_IDS,
    GET_PROFILES,
    IMPORT_PROFILE,
    UPDATE_PROFILE,
    AccountRefused,
    DrainContext,
    Endpoint,
)
from app.klaviyo.drain.profile_push import ProfilePush
from app.klaviyo.drain.retry import PushFailure
from app.klaviyo.payloads.profiles import profile_bulk_import_job

log = structlog.get_logger(__name__)

_ROW_POINTER = re.compile(r"^/data/attributes/profiles/data/(\d+)")
_CONTACT_IDENTIFIERS = ("email", "phone_number")
_ALL_IDENTIFIERS = ("email", "phone_number", "external_id")
PAGE_SIZE = 100


async def import_one(ctx: DrainContext, push: ProfilePush) -> None:
    """POST /api/profile-import for one row; records the Klaviyo id or the failure."""
    assert push.resource is not None
    answer = await ctx.send_json(IMPORT_PROFILE, body={"data": push.resource})
    if not isinstance(answer, PushFailure):
        _take_id(push, answer)
        return
    if answer.status in (401, 403):
        raise AccountRefused(answer.detail or "")
    if answer.status == 409 and answer.duplicate_profile_id:
        await _patch_duplicate(ctx, push, answer.duplicate_profile_id)
        return
    if _forget_gone_profile(push, answer):
        await import_one(ctx, push)
        return
    push.fail(answer)


def _forget_gone_profile(push: ProfilePush, failure: PushFailure) -> bool:
    """Klaviyo no longer holds the profile id we recorded (deleted there): the row goes again
    without it, imported by its identifiers, rather than failing for good. Once per row: the id
    is gone after this, so no loop."""
    gone = failure.code == "not_found" and (failure.pointer or "").endswith("/id")
    if not gone or push.resource is None or "id" not in push.resource:
        return False
    old_id = push.resource.pop("id")
    push.klaviyo_profile_id = None
    push.warnings.append(f"Klaviyo no longer had profile {old_id}; imported it anew")
    return True


async def _patch_duplicate(ctx: DrainContext, push: ProfilePush, profile_id: str) -> None:
    assert push.resource is not None
    attributes = dict(push.resource["attributes"])
    answer: Any = None
    for left_out in ((), _CONTACT_IDENTIFIERS, _ALL_IDENTIFIERS):
        sent = {k: v for k, v in attributes.items() if k not in left_out}
        body = {"data": {"type": "profile", "id": profile_id, "attributes": sent}}
        answer = await ctx.send(UPDATE_PROFILE, body=body, path_id=profile_id)
        if not isinstance(answer, PushFailure):
            push.klaviyo_profile_id = profile_id
            push.imported = True
            dropped = [k for k in left_out if k in attributes]
            push.warnings.append(
                f"Klaviyo already had profile {profile_id} for these identifiers; updated it"
                + (f" without {', '.join(dropped)} (held by another profile)" if dropped else "")
            )
            return
        if answer.status != 409:
            break
    push.fail(answer)


async def import_bulk(
    ctx: DrainContext, pushes: list[ProfilePush], renew_lease: Callable[[], Awaitable[Any]]
) -> None:
    """One profile-bulk-import job for `pushes`: submit, poll, read its errors and ids."""
    rows = [p for p in pushes if p.pushable]
    while rows:
        body = profile_bulk_import_job(_resources(rows))
        answer = await ctx.send_json(BULK_IMPORT_PROFILES, body=body)
        if not isinstance(answer, PushFailure):
            break
        if answer.status in (401, 403):
            raise AccountRefused(answer.detail or "")
        named = _rows_named(answer, len(rows)) if not answer.retryable else {}
        if not named:
            _fail_all(rows, answer)
            return
        for index, row_failure in named.items():
            if not _forget_gone_profile(rows[index], row_failure):
                rows[index].fail(row_failure)
        rows = [p for p in rows if p.pushable]
    if not rows:
        return

    job_id = answer["data"]["id"]
    status = await _wait_for_job(ctx, job_id, renew_lease)
    if status != "complete":
        detail = f"bulk import job {job_id} ended {status}"
        _fail_all(rows, PushFailure(kind="transient", code="bulk_job", detail=detail))
        return
    try:
        failed, gone = await _job_errors(ctx, job_id, rows)
    except _PageFailed as exc:
        _fail_all(rows, exc.failure)
        return
    succeeded = [p for i, p in enumerate(rows) if i not in failed]
    for push in succeeded:
        push.imported = True
    await _learn_profile_ids(ctx, job_id, succeeded)
    if gone:
        await import_bulk(ctx, gone, renew_lease)
    log.info(
        "drain_bulk_job_done",
        surface="profiles",
        job_id=job_id,
        batch_size=len(rows),
        failed=len(failed),
    )


async def _wait_for_job(
    ctx: DrainContext, job_id: str, renew_lease: Callable[[], Awaitable[Any]]
) -> str:
    """Poll until the job ends or the lease would run out; renews the lease meanwhile."""
    delay = 0.2
    give_up = time.monotonic() + max(ctx.lease_s * 0.8, 5.0)
    while True:
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 3.0)
        answer = await ctx.send_json(GET_IMPORT_JOB, path_id=job_id)
        if not isinstance(answer, PushFailure):
            status = answer["data"]["attributes"]["status"]
            if status in ("complete", "cancelled", "failed"):
                return status
        if time.monotonic() > give_up:
            return "unfinished in time"
        await renew_lease()


async def _job_errors(
    ctx: DrainContext, job_id: str, rows: list[ProfilePush]
) -> tuple[set[int], list[ProfilePush]]:
    """Rows the job could not import (import-errors name them by pointer) fail alone, but for
    rows whose recorded profile Klaviyo no longer holds: those are answered to go again."""
    failed: set[int] = set()
    gone: list[ProfilePush] = []
    async for item in _pages(ctx, GET_IMPORT_ERRORS, job_id):
        attributes = item.get("attributes") or {}
        pointer = (attributes.get("source") or {}).get("pointer") or ""
        match = _ROW_POINTER.match(pointer)
        if not match or int(match.group(1)) >= len(rows):
            continue
        index = int(match.group(1))
        failed.add(index)
        failure = PushFailure(
            kind="rejected",
            status=400,
            code=attributes.get("code"),
            detail=attributes.get("detail") or attributes.get("title"),
            pointer=pointer,
        )
        if _forget_gone_profile(rows[index], failure):
            gone.append(rows[index])
        else:
            rows[index].fail(failure)
    return failed, gone


async def _learn_profile_ids(ctx: DrainContext, job_id: str, imported: list[ProfilePush]) -> None:
    """Record the Klaviyo id of each imported row.

    The job lists the ids of the profiles it imported in no promised order, so each id is
    matched to its row by the external_id Klaviyo holds for it (Get Profiles, filtered on a
    page of ids). A row left unmatched, or every row when a read fails, keeps the id it had:
    its next profile-import answers it. Never guessed from positions.
    """
    by_external_id = {_external_id(p): p for p in imported}
    try:
        profile_ids = [item["id"] async for item in _pages(ctx, GET_IMPORT_PROFILE_IDS, job_id)]
    except _PageFailed as exc:
        _ids_unknown(job_id, len(imported), exc.failure)
        return
    for start in range(0, len(profile_ids), PAGE_SIZE):
        chunk = profile_ids[start : start + PAGE_SIZE]
        params = {
            "filter": f"any(id,{json.dumps(chunk, separators=(',', ':'))})",
            "fields[profile]": "external_id",
            "page[size]": PAGE_SIZE,
        }
        document = await ctx.send_json(GET_PROFILES, params=params)
        if isinstance(document, PushFailure):
            _ids_unknown(job_id, len(imported), document)
            return
        for item in document.get("data") or []:
            push = by_external_id.get((item.get("attributes") or {}).get("external_id"))
            if push is not None and item.get("id") in chunk:
                push.klaviyo_profile_id = item["id"]


def _ids_unknown(job_id: str, rows: int, failure: PushFailure) -> None:
    # Not an error for the rows (they are synced); their ids come with the next push.
    log.warning(
        "profile_ids_unknown",
        klaviyo_job_id=job_id,
        batch_size=rows,
        klaviyo_status=failure.status,
        reason=failure.detail,
    )


def _external_id(push: ProfilePush) -> str | None:
    assert push.resource is not None  # pushable
    return push.resource["attributes"].get("external_id")


class _PageFailed(Exception):
    def __init__(self, failure: PushFailure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


async def _pages(ctx: DrainContext, endpoint: Endpoint, job_id: str) -> AsyncIterator[Any]:
    """Items of a paginated job listing, following links.next."""
    params: dict[str, Any] = {"page[size]": PAGE_SIZE}
    while True:
        document = await ctx.send_json(endpoint, path_id=job_id, params=params)
        if isinstance(document, PushFailure):
            raise _PageFailed(document)
        for item in document.get("data") or []:
            yield item
        following = (document.get("links") or {}).get("next")
        if not following:
            return
        params = dict(httpx.URL(following).params)


def _take_id(push: ProfilePush, document: Any) -> None:
    try:
        push.klaviyo_profile_id = document["data"]["id"]
    except (KeyError, TypeError):
        # The profile landed, the answer names no id: the next push learns it.
        push.warnings.append("Klaviyo's answer had no readable profile id")
    push.imported = True


def _resources(rows: Sequence[ProfilePush]) -> list[dict[str, Any]]:
    """The resources of pushable rows, one per row in order: a job's errors point by index."""
    resources = []
    for push in rows:
        assert push.resource is not None  # pushable
        resources.append(push.resource)
    return resources


def _rows_named(failure: PushFailure, count: int) -> dict[int, PushFailure]:
    named: dict[int, PushFailure] = {}
    for row_error in failure.row_errors:
        match = _ROW_POINTER.match(row_error.pointer or "")
        if match and int(match.group(1)) < count:
            named.setdefault(int(match.group(1)), row_error)
    return named


def _fail_all(rows: Sequence[ProfilePush], failure: PushFailure) -> None:
    for push in rows:
        push.fail(failure)
