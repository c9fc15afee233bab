"""Pure logic of the session value's signature and of roles to permissions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from app.auth.permissions import RolePermissions, parse_roles
from app.auth.signing import sign_token, verified_token
from app.config import DEFAULT_ROLES_FILE, ConfigError


def test_signature_is_padded_standard_base64_of_hmac_sha256():
    signed = sign_token("abc123", "s3cret")

    token, _, signature = signed.rpartition(".")
    expected = hmac.new(b"s3cret", b"abc123", hashlib.sha256).digest()
    assert token == "abc123"
    assert len(signature) == 44 and signature.endswith("=")
    assert base64.b64decode(signature) == expected


def test_verification_answers_the_token_only_for_a_good_signature():
    signed = sign_token("tok", "key")

    assert verified_token(signed, "key") == "tok"
    assert verified_token(signed.replace("tok", "tak"), "key") is None
    assert verified_token(signed, "other") is None
    assert verified_token("tok", "key") is None
    assert verified_token(signed[:-1], "key") is None


def test_a_url_encoded_value_verifies():
    signed = sign_token("tok", "key")

    encoded = signed.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    assert verified_token(encoded, "key") == "tok"


def test_roles_parse_from_comma_lists_and_null_is_user():
    assert parse_roles(None) == ("user",)
    assert parse_roles("") == ("user",)
    assert parse_roles("admin, support") == ("admin", "support")


def test_the_shipped_roles_file_grants_admin_both_and_support_view():
    roles = RolePermissions.load(DEFAULT_ROLES_FILE)

    assert roles.allows(["admin"], "klaviyo", "manage")
    assert roles.allows(["support"], "klaviyo", "view")
    assert not roles.allows(["support"], "klaviyo", "manage")
    assert not roles.allows(["user"], "klaviyo", "view")
    assert roles.allows(["user", "support"], "klaviyo", "view")


def test_a_malformed_roles_file_is_a_clear_config_error(tmp_path):
    path = tmp_path / "roles.json"
    path.write_text(json.dumps({"admin": ["view"]}))

    with pytest.raises(ConfigError, match="role -> resource"):
        RolePermissions.load(path)
    with pytest.raises(ConfigError, match="cannot be read"):
        RolePermissions.load(tmp_path / "missing.json")
