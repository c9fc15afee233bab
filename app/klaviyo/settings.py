"""The klaviyo settings group: API revision and kill switches, read through one typed accessor."""

from __future__ import annotations

import re
from typing import Literal, get_args

import msgspec
import psycopg
from psycopg import sql

Surface = Literal["profile", "event", "catalog", "coupon", "webhook_ingest"]
SURFACES: tuple[Surface, ...] = get_args(Surface)

DEFAULT_REVISION = "2026-07-15"
_REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.pre)?$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingError(ValueError):
    """A setting name that does not exist, or a value it cannot take."""


class KlaviyoSettings(msgspec.Struct, frozen=True, kw_only=True):
    revision: str = DEFAULT_REVISION
    sync_enabled: bool = True
    profile_sync_enabled: bool = True
    event_sync_enabled: bool = True
    catalog_sync_enabled: bool = True
    coupon_sync_enabled: bool = True
    webhook_ingest_enabled: bool = True
    consent_polling_enabled: bool = False

    def surface_enabled(self, surface: Surface) -> bool:
        """A surface runs only when the master switch and its own are both on."""
        if surface not in SURFACES:
            raise SettingError(f"unknown surface {surface!r}; surfaces are {', '.join(SURFACES)}")
        own = "webhook_ingest_enabled" if surface == "webhook_ingest" else f"{surface}_sync_enabled"
        return self.sync_enabled and bool(getattr(self, own))


# The names `set_setting` accepts; each maps to a column of klaviyo.settings of the same name.
SETTING_NAMES: tuple[str, ...] = KlaviyoSettings.__struct_fields__
_BOOLEAN_SETTINGS = frozenset(n for n in SETTING_NAMES if n.endswith("_enabled"))

_SELECT = sql.SQL("SELECT {} FROM klaviyo.settings WHERE singleton").format(
    sql.SQL(", ").join(sql.Identifier(n) for n in SETTING_NAMES)
)


async def load_settings(conn: psycopg.AsyncConnection) -> KlaviyoSettings:
    cur = await conn.execute(_SELECT)
    row = await cur.fetchone()
    if row is None:
        return KlaviyoSettings()
    return KlaviyoSettings(**dict(zip(SETTING_NAMES, row, strict=True)))


def load_settings_sync(conn: psycopg.Connection) -> KlaviyoSettings:
    row = conn.execute(_SELECT).fetchone()
    if row is None:
        return KlaviyoSettings()
    return KlaviyoSettings(**dict(zip(SETTING_NAMES, row, strict=True)))


def coerce_setting(name: str, value: object) -> str | bool:
    """Check the name and turn `value` (typed, or text from a shell) into what the column holds."""
    if name not in SETTING_NAMES:
        raise SettingError(f"unknown setting {name!r}; settings are {', '.join(SETTING_NAMES)}")
    if name in _BOOLEAN_SETTINGS:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise SettingError(f"{name} must be true or false, got {value!r}")
    text = str(value).strip()
    if not _REVISION.match(text):
        raise SettingError(f"revision must look like YYYY-MM-DD (optionally .pre), got {value!r}")
    return text


def _upsert(name: str) -> sql.Composed:
    column = sql.Identifier(name)
    return sql.SQL(
        "INSERT INTO klaviyo.settings (singleton, {col}) VALUES (true, %s) "
        "ON CONFLICT (singleton) DO UPDATE SET {col} = EXCLUDED.{col}, updated_at = now()"
    ).format(col=column)


async def set_setting(conn: psycopg.AsyncConnection, name: str, value: object) -> None:
    coerced = coerce_setting(name, value)
    await conn.execute(_upsert(name), (coerced,))


def set_setting_sync(conn: psycopg.Connection, name: str, value: object) -> None:
    coerced = coerce_setting(name, value)
    conn.execute(_upsert(name), (coerced,))
