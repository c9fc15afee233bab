"""Validates request bodies against a schema of Klaviyo's OpenAPI spec (shared reference copy)."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from app.config import REPO_ROOT

SPEC_PATH = REPO_ROOT.parent / "shared" / "klaviyo" / "openapi" / "stable.json"


@functools.cache
def _components() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))["components"]


def assert_matches_spec(body: Any, schema_name: str) -> None:
    """Fails with every violation listed; skips when the spec is not next to the checkout."""
    if not SPEC_PATH.exists():
        pytest.skip(f"Klaviyo's OpenAPI spec is not at {SPEC_PATH}")
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": _components()}
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft202012Validator(root).iter_errors(body)
    ]
    assert not errors, f"{schema_name} violations: {errors}"
