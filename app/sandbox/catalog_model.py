"""Catalog items, variants and categories: schemas, Klaviyo's id form, and the changes to state."""

from __future__ import annotations

import time
from typing import Any, Literal, TypeAlias

import msgspec
from msgspec import UNSET, Struct, UnsetType

from app.sandbox.jsonapi import ApiError, check_type, iso
from app.sandbox.store import Account, Resource

Text = str | None | UnsetType
Number = float | None | UnsetType
# A Struct class; `type` itself is shadowed inside Kind by its `type` field.
StructClass: TypeAlias = type[Struct]


class Strict(Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


class Ref(Strict):
    type: str
    id: str


class RefList(Strict):
    data: list[Ref]


class RefOne(Strict):
    data: Ref | UnsetType = UNSET


class Media(Strict, kw_only=True):
    image_full_url: Text = UNSET
    image_thumbnail_url: Text = UNSET
    images: list[str] | None | UnsetType = UNSET
    custom_metadata: dict[str, Any] | None | UnsetType = UNSET
    published: bool | None | UnsetType = UNSET


class ItemCreate(Media, kw_only=True):
    external_id: str
    title: str
    description: str
    url: str
    integration_type: Literal["$custom"] | None | UnsetType = UNSET
    price: Number = UNSET
    catalog_type: Text = UNSET


class ItemUpdate(Media, kw_only=True):
    title: Text = UNSET
    price: Number = UNSET
    description: Text = UNSET
    url: Text = UNSET


class VariantCreate(Media, kw_only=True):
    external_id: str
    title: str
    description: str
    sku: str
    inventory_quantity: float
    price: float
    url: str
    catalog_type: Text = UNSET
    integration_type: Literal["$custom"] | None | UnsetType = UNSET
    inventory_policy: Literal[0, 1, 2] | None | UnsetType = UNSET


class VariantUpdate(Media, kw_only=True):
    title: Text = UNSET
    description: Text = UNSET
    sku: Text = UNSET
    inventory_policy: Literal[0, 1, 2] | None | UnsetType = UNSET
    inventory_quantity: Number = UNSET
    price: Number = UNSET
    url: Text = UNSET


class CategoryCreate(Strict):
    external_id: str
    name: str
    integration_type: Literal["$custom"] | None | UnsetType = UNSET
    catalog_type: Text = UNSET


class CategoryUpdate(Strict):
    name: Text = UNSET


class ItemRelations(Strict):
    categories: RefList | UnsetType = UNSET


class VariantRelations(Strict):
    item: RefOne


class CategoryRelations(Strict):
    items: RefList | UnsetType = UNSET


class Kind(Struct, frozen=True):
    """What differs between items, variants and categories."""

    name: str  # "item"
    type: str  # "catalog-item"
    path: str  # "/api/catalog-items"
    plural: str  # "items", the key of bulk job attributes
    fields: tuple[str, ...]  # attributes rendered on reads
    create: StructClass
    update: StructClass
    create_relations: StructClass
    update_relations: StructClass | None
    link_name: str  # relationship stored on the resource
    link_type: str

    def store(self, account: Account) -> dict[str, Resource]:
        return {"item": account.items, "variant": account.variants, "category": account.categories}[
            self.name
        ]


_MEDIA = ("image_full_url", "image_thumbnail_url", "images", "custom_metadata", "published")
ITEM = Kind(
    "item",
    "catalog-item",
    "/api/catalog-items",
    "items",
    ("external_id", "title", "description", "price", "url", *_MEDIA),
    ItemCreate,
    ItemUpdate,
    ItemRelations,
    ItemRelations,
    "categories",
    "catalog-category",
)
VARIANT = Kind(
    "variant",
    "catalog-variant",
    "/api/catalog-variants",
    "variants",
    (
        "external_id",
        "title",
        "description",
        "sku",
        "inventory_policy",
        "inventory_quantity",
        "price",
        "url",
        *_MEDIA,
    ),
    VariantCreate,
    VariantUpdate,
    VariantRelations,
    None,
    "item",
    "catalog-item",
)
CATEGORY = Kind(
    "category",
    "catalog-category",
    "/api/catalog-categories",
    "categories",
    ("external_id", "name"),
    CategoryCreate,
    CategoryUpdate,
    CategoryRelations,
    CategoryRelations,
    "items",
    "catalog-item",
)
KINDS = (ITEM, VARIANT, CATEGORY)


def create_data_type(kind: Kind) -> StructClass:
    required = kind is VARIANT
    fields: list[Any] = [("type", str), ("attributes", kind.create)]
    rel = kind.create_relations
    fields.append(("relationships", rel) if required else ("relationships", rel | UnsetType, UNSET))
    return msgspec.defstruct(f"{kind.name}_create", fields, forbid_unknown_fields=True)


def update_data_type(kind: Kind, with_id: bool = True) -> StructClass:
    fields: list[Any] = [("type", str), ("id", str), ("attributes", kind.update)]
    if kind.update_relations is not None:
        fields.append(("relationships", kind.update_relations | UnsetType, UNSET))
    return msgspec.defstruct(f"{kind.name}_update", fields, forbid_unknown_fields=True)


def delete_data_type(kind: Kind) -> StructClass:
    return msgspec.defstruct(
        f"{kind.name}_delete", [("type", str), ("id", str)], forbid_unknown_fields=True
    )


def catalog_id(attrs: Any) -> str:
    integration = attrs.integration_type if isinstance(attrs.integration_type, str) else "$custom"
    catalog = attrs.catalog_type if isinstance(attrs.catalog_type, str) else "$default"
    return f"{integration}:::{catalog}:::{attrs.external_id}"


def _refs(account: Account, refs: list[Ref], expected_type: str, pointer: str) -> set[str]:
    store = account.categories if expected_type == "catalog-category" else account.items
    ids = set()
    for i, ref in enumerate(refs):
        check_type(ref.type, expected_type, f"{pointer}/{i}/type")
        if ref.id not in store:
            raise ApiError(
                404,
                "not_found",
                f"The related resource {ref.id} does not exist.",
                f"{pointer}/{i}/id",
            )
        ids.add(ref.id)
    return ids


def create(account: Account, kind: Kind, data: Any, pointer: str) -> Resource:
    check_type(data.type, kind.type, f"{pointer}/type")
    store = kind.store(account)
    resource_id = catalog_id(data.attributes)
    if resource_id in store:
        raise ApiError(
            409,
            "conflict",
            f"A {kind.type} with id {resource_id} already exists.",
            f"{pointer}/attributes/external_id",
        )
    rels = data.relationships
    links: set[str] = set()
    if kind is VARIANT:
        ref = rels.item.data
        if ref is UNSET:
            raise ApiError(
                400, "invalid", "A variant needs its item.", f"{pointer}/relationships/item/data"
            )
        spot = f"{pointer}/relationships/item/data"
        check_type(ref.type, "catalog-item", f"{spot}/type")
        if ref.id not in account.items:
            raise ApiError(404, "not_found", f"The item {ref.id} does not exist.", f"{spot}/id")
        links = {ref.id}
    elif rels is not UNSET and getattr(rels, kind.link_name) is not UNSET:
        links = _refs(
            account,
            getattr(rels, kind.link_name).data,
            kind.link_type,
            f"{pointer}/relationships/{kind.link_name}/data",
        )
    resource = Resource(resource_id, msgspec.to_builtins(data.attributes), time.time())
    store[resource_id] = resource
    set_links(account, kind, resource, links)
    return resource


def update(account: Account, kind: Kind, data: Any, pointer: str) -> Resource:
    check_type(data.type, kind.type, f"{pointer}/type")
    resource = find(account, kind, data.id, f"{pointer}/id")
    resource.attributes.update(msgspec.to_builtins(data.attributes))
    rels = getattr(data, "relationships", UNSET)
    if rels is not UNSET and getattr(rels, kind.link_name) is not UNSET:
        links = _refs(
            account,
            getattr(rels, kind.link_name).data,
            kind.link_type,
            f"{pointer}/relationships/{kind.link_name}/data",
        )
        set_links(account, kind, resource, links)
    resource.updated = time.time()
    return resource


def delete(account: Account, kind: Kind, resource_id: str, pointer: str | None = None) -> None:
    resource = find(account, kind, resource_id, pointer)
    set_links(account, kind, resource, set())
    if kind is ITEM:
        for variant_id in list(resource.links.get("variants", ())):
            account.variants.pop(variant_id, None)
    del kind.store(account)[resource_id]


def find(account: Account, kind: Kind, resource_id: str, pointer: str | None = None) -> Resource:
    resource = kind.store(account).get(resource_id)
    if resource is None:
        raise ApiError(
            404, "not_found", f"A {kind.type} with id {resource_id} does not exist.", pointer
        )
    return resource


def set_links(account: Account, kind: Kind, resource: Resource, targets: set[str]) -> None:
    """Replace a resource's links and keep the other side of each link in step."""
    name = kind.link_name
    back = {"categories": "items", "items": "categories", "item": "variants"}[name]
    other = account.categories if name == "categories" else account.items
    for old in resource.links.get(name, set()) - targets:
        if old in other:
            other[old].links.get(back, set()).discard(resource.id)
    for new in targets:
        other[new].links.setdefault(back, set()).add(resource.id)
    resource.links[name] = set(targets)


def resource_document(base_url: str, kind: Kind, resource: Resource) -> dict[str, Any]:
    attributes = {name: resource.attributes.get(name) for name in kind.fields}
    attributes["updated"] = iso(resource.updated)
    if kind is not CATEGORY:
        attributes["created"] = iso(resource.created)
    link = f"{base_url}{kind.path}/{resource.id}/"
    relationships: dict[str, Any] = {}
    if kind is ITEM:
        variants = sorted(resource.links.get("variants", ()))
        relationships["variants"] = {
            "data": [{"type": "catalog-variant", "id": v} for v in variants]
        }
    elif kind is VARIANT:
        item_id = next(iter(resource.links.get("item", ())), None)
        relationships["item"] = {
            "data": {"type": "catalog-item", "id": item_id} if item_id else None
        }
    else:
        items = sorted(resource.links.get("items", ()))
        relationships["items"] = {"data": [{"type": "catalog-item", "id": i} for i in items]}
    return {
        "type": kind.type,
        "id": resource.id,
        "attributes": attributes,
        "relationships": relationships,
        "links": {"self": link},
    }
