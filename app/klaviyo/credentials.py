"""The stored Klaviyo credential (API key + account) and the webhook secret, encrypted at rest."""

from __future__ import annotations

from datetime import datetime

import msgspec
import psycopg

from app.klaviyo.secrets import SecretCipher


class KlaviyoCredential(msgspec.Struct, frozen=True, kw_only=True):
    api_key: str
    account_id: str
    connected_at: datetime

    def __repr__(self) -> str:
        # Keeps the key out of tracebacks and debug output.
        return f"KlaviyoCredential(account_id={self.account_id!r}, api_key=[redacted])"


_LOAD = "SELECT api_key_encrypted, account_id, connected_at FROM klaviyo.credential"
# The singleton key makes the last of several concurrent connects win; never two rows.
_STORE = """
    INSERT INTO klaviyo.credential (singleton, api_key_encrypted, account_id, connected_at)
    VALUES (true, %s, %s, now())
    ON CONFLICT (singleton) DO UPDATE
    SET api_key_encrypted = EXCLUDED.api_key_encrypted,
        account_id = EXCLUDED.account_id,
        connected_at = EXCLUDED.connected_at
    RETURNING connected_at
"""
_DELETE = "DELETE FROM klaviyo.credential"
_SELECT_WEBHOOK_CIPHERTEXT = "SELECT webhook_secret_encrypted FROM klaviyo.settings WHERE singleton"
_UPSERT_WEBHOOK_CIPHERTEXT = """
    INSERT INTO klaviyo.settings (singleton, webhook_secret_encrypted) VALUES (true, %s)
    ON CONFLICT (singleton) DO UPDATE
    SET webhook_secret_encrypted = EXCLUDED.webhook_secret_encrypted, updated_at = now()
"""


def _credential(row: tuple | None, cipher: SecretCipher) -> KlaviyoCredential | None:
    if row is None:
        return None
    return KlaviyoCredential(api_key=cipher.decrypt(row[0]), account_id=row[1], connected_at=row[2])


async def load_credential(
    conn: psycopg.AsyncConnection, cipher: SecretCipher
) -> KlaviyoCredential | None:
    cur = await conn.execute(_LOAD)
    return _credential(await cur.fetchone(), cipher)


def load_credential_sync(
    conn: psycopg.Connection, cipher: SecretCipher
) -> KlaviyoCredential | None:
    return _credential(conn.execute(_LOAD).fetchone(), cipher)


async def store_credential(
    conn: psycopg.AsyncConnection, cipher: SecretCipher, *, api_key: str, account_id: str
) -> KlaviyoCredential:
    cur = await conn.execute(_STORE, (cipher.encrypt(api_key), account_id))
    row = await cur.fetchone()
    assert row is not None
    return KlaviyoCredential(api_key=api_key, account_id=account_id, connected_at=row[0])


async def delete_credential(conn: psycopg.AsyncConnection) -> bool:
    cur = await conn.execute(_DELETE)
    return cur.rowcount > 0


async def load_webhook_secret(conn: psycopg.AsyncConnection, cipher: SecretCipher) -> str | None:
    cur = await conn.execute(_SELECT_WEBHOOK_CIPHERTEXT)
    row = await cur.fetchone()
    return cipher.decrypt(row[0]) if row and row[0] is not None else None


def load_webhook_secret_sync(conn: psycopg.Connection, cipher: SecretCipher) -> str | None:
    row = conn.execute(_SELECT_WEBHOOK_CIPHERTEXT).fetchone()
    return cipher.decrypt(row[0]) if row and row[0] is not None else None


async def store_webhook_secret(
    conn: psycopg.AsyncConnection, cipher: SecretCipher, secret: str | None
) -> None:
    """Store (or, with None, clear) the secret Klaviyo signs webhook deliveries with."""
    encrypted = cipher.encrypt(secret) if secret else None
    await conn.execute(_UPSERT_WEBHOOK_CIPHERTEXT, (encrypted,))


def store_webhook_secret_sync(
    conn: psycopg.Connection, cipher: SecretCipher, secret: str | None
) -> None:
    encrypted = cipher.encrypt(secret) if secret else None
    conn.execute(_UPSERT_WEBHOOK_CIPHERTEXT, (encrypted,))
