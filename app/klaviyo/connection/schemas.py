"""Request and response shapes of the connection lifecycle endpoints (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec


class ConnectRequest(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    api_key: str

    def __repr__(self) -> str:
        return "ConnectRequest(api_key=[redacted])"


class KlaviyoConnectResponse(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    connected: Literal[True]
    account_id: str
    connected_at: datetime


class KlaviyoDisconnectResponse(msgspec.Struct, frozen=True, kw_only=True):
    disconnected: Literal[True]


class PerSurfaceEnabled(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    profile: bool
    event: bool
    catalog: bool
    coupon: bool
    webhook_ingest: bool


class ConnectionConfiguration(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    feed: Literal["configured", "missing"]
    missing_keys: list[str]
    revision: str


class KlaviyoConnectionStatusResponse(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    connected: bool
    account_id: str | None
    connected_at: datetime | None
    api_key_masked: str | None
    sync_enabled: bool
    per_surface_enabled: PerSurfaceEnabled
    configuration: ConnectionConfiguration
