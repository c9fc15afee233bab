"""Catalog endpoints: items, variants and categories, and the item↔category relationships."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath
from msgspec import Struct, defstruct

from app.sandbox import catalog_model as model
from app.sandbox.catalog_model import CATEGORY, ITEM, KINDS, Kind, Ref, StructClass
from app.sandbox.jsonapi import (
    ApiError,
    check_type,
    decode_body,
    document,
    next_link,
    page_cursor,
    page_size,
)
from app.sandbox.runtime import account_of, read_body

_OPERATION_NAMES = {
    "item": ("catalog_item", "catalog_items"),
    "variant": ("catalog_variant", "catalog_variants"),
    "category": ("catalog_category", "catalog_categories"),
}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _body_type(name: str, data_type: StructClass) -> StructClass:
    return defstruct(name, [("data", data_type)], forbid_unknown_fields=True)


def _routes_for(kind: Kind) -> list[Any]:
    one, many = _OPERATION_NAMES[kind.name]
    create_body = _body_type(f"{kind.name}_create_body", model.create_data_type(kind))
    update_body = _body_type(f"{kind.name}_update_body", model.update_data_type(kind))

    @post(kind.path, opt={"operation": f"create_{one}"}, name=f"create_{one}")
    async def create_one(request: Request) -> Response:
        # Built at run time: its fields are known by name only.
        body: Any = decode_body(await read_body(request), create_body)
        check_type(body.data.type, kind.type)
        resource = model.create(account_of(request), kind, body.data, "/data")
        return document({"data": model.resource_document(_base(request), kind, resource)}, 201)

    @patch(
        f"{kind.path}/{{resource_id:str}}", opt={"operation": f"update_{one}"}, name=f"update_{one}"
    )
    async def update_one(request: Request, resource_id: FromPath[str]) -> Response:
        body: Any = decode_body(await read_body(request), update_body)
        check_type(body.data.type, kind.type)
        if body.data.id != resource_id:
            raise ApiError(
                409, "conflict", "The id in the body does not match the id in the URL.", "/data/id"
            )
        resource = model.update(account_of(request), kind, body.data, "/data")
        return document({"data": model.resource_document(_base(request), kind, resource)})

    @delete(
        f"{kind.path}/{{resource_id:str}}",
        opt={"operation": f"delete_{one}"},
        name=f"delete_{one}",
        status_code=204,
    )
    async def delete_one(request: Request, resource_id: FromPath[str]) -> None:
        model.delete(account_of(request), kind, resource_id)
        return None

    @get(f"{kind.path}/{{resource_id:str}}", opt={"operation": f"get_{one}"}, name=f"get_{one}")
    async def get_one(request: Request, resource_id: FromPath[str]) -> Response:
        resource = model.find(account_of(request), kind, resource_id)
        return document({"data": model.resource_document(_base(request), kind, resource)})

    @get(kind.path, opt={"operation": f"get_{many}"}, name=f"get_{many}")
    async def list_many(request: Request) -> Response:
        store = kind.store(account_of(request))
        size, offset = page_size(request, 100, 100), page_cursor(request)
        resources = list(store.values())[offset : offset + size]
        links: dict[str, str | None] = {"self": str(request.url), "next": None, "prev": None}
        if len(store) > offset + size:
            links["next"] = next_link(request, offset + size)
        data = [model.resource_document(_base(request), kind, r) for r in resources]
        return document({"data": data, "links": links})

    return [create_one, update_one, delete_one, get_one, list_many]


class RefBody(Struct, forbid_unknown_fields=True):
    data: list[Ref]


def _relationship_routes(owner: Kind, name: str, target_type: str, suffix: str) -> list[Any]:
    """GET/POST/PATCH/DELETE of {owner}/{id}/relationships/{name}."""
    path = f"{owner.path}/{{resource_id:str}}/relationships/{name}"
    ops = {
        "get": f"get_{suffix}_ids_for_{_OPERATION_NAMES[owner.name][0]}",
        "post": f"add_{name}_to_{_OPERATION_NAMES[owner.name][0]}",
        "patch": f"update_{name}_for_{_OPERATION_NAMES[owner.name][0]}",
        "delete": f"remove_{name}_from_{_OPERATION_NAMES[owner.name][0]}",
    }

    async def _targets(request: Request) -> set[str]:
        body = decode_body(await read_body(request), RefBody)
        ids = set()
        for i, ref in enumerate(body.data):
            check_type(ref.type, target_type, f"/data/{i}/type")
            target_kind = CATEGORY if target_type == "catalog-category" else ITEM
            model.find(account_of(request), target_kind, ref.id, f"/data/{i}/id")
            ids.add(ref.id)
        return ids

    def _change(request: Request, resource_id: str, targets: set[str], how: str) -> None:
        account = account_of(request)
        resource = model.find(account, owner, resource_id)
        current = resource.links.get(name, set())
        new = {"post": current | targets, "patch": targets, "delete": current - targets}[how]
        model.set_links(account, owner, resource, new)
        return None

    @get(path, opt={"operation": ops["get"]}, name=ops["get"])
    async def read_links(request: Request, resource_id: FromPath[str]) -> Response:
        resource = model.find(account_of(request), owner, resource_id)
        ids = sorted(resource.links.get(name, ()))
        return document(
            {
                "data": [{"type": target_type, "id": i} for i in ids],
                "links": {"self": str(request.url)},
            }
        )

    @post(path, opt={"operation": ops["post"]}, name=ops["post"], status_code=204)
    async def add_links(request: Request, resource_id: FromPath[str]) -> None:
        _change(request, resource_id, await _targets(request), "post")

    @patch(path, opt={"operation": ops["patch"]}, name=ops["patch"], status_code=204)
    async def replace_links(request: Request, resource_id: FromPath[str]) -> None:
        _change(request, resource_id, await _targets(request), "patch")

    @delete(path, opt={"operation": ops["delete"]}, name=ops["delete"], status_code=204)
    async def remove_links(request: Request, resource_id: FromPath[str]) -> None:
        _change(request, resource_id, await _targets(request), "delete")

    return [read_links, add_links, replace_links, remove_links]


ROUTES = [
    *(route for kind in KINDS for route in _routes_for(kind)),
    *_relationship_routes(ITEM, "categories", "catalog-category", "category"),
    *_relationship_routes(CATEGORY, "items", "catalog-item", "item"),
]
