"""The Klaviyo client for the stored credential, built once and dropped on (dis)connect."""

from __future__ import annotations

import httpx
import psycopg

from app.klaviyo.client import KlaviyoClient
from app.klaviyo.credentials import load_credential
from app.klaviyo.secrets import SecretCipher
from app.klaviyo.settings import load_settings


class KlaviyoClientProvider:
    """Caches one client per (account, connect time, revision); `invalidate` forgets it."""

    def __init__(self, base_url: str, http: httpx.AsyncClient, cipher: SecretCipher) -> None:
        self._base_url = base_url
        self._http = http
        self._cipher = cipher
        self._cached: tuple[tuple[object, ...], KlaviyoClient] | None = None

    async def current(self, conn: psycopg.AsyncConnection) -> KlaviyoClient | None:
        """The client for the connected account, or None when no account is connected."""
        credential = await load_credential(conn, self._cipher)
        if credential is None:
            self._cached = None
            return None
        revision = (await load_settings(conn)).revision
        identity = (credential.account_id, credential.connected_at, revision)
        if self._cached is None or self._cached[0] != identity:
            client = KlaviyoClient(self._base_url, credential.api_key, revision, self._http)
            self._cached = (identity, client)
        return self._cached[1]

    def invalidate(self) -> None:
        self._cached = None
