"""Better-Auth's signed session cookie value: `token.signature`, HMAC-SHA256 in base64."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import unquote

# Standard base64 of a 32-byte digest, with padding.
SIGNATURE_LENGTH = 44


def sign_token(token: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()
    return f"{token}.{base64.b64encode(digest).decode()}"


def verified_token(value: str, secret: str) -> str | None:
    """The session token when `value` carries a valid signature for it, else None."""
    decoded = unquote(value.strip())
    token, dot, signature = decoded.rpartition(".")
    if not dot or not token or len(signature) != SIGNATURE_LENGTH or not signature.endswith("="):
        return None
    expected = sign_token(token, secret).rpartition(".")[2]
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return None
    return token
