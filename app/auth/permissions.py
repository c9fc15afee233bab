"""Roles to permissions, from a file mirroring Better-Auth's access-control statements."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import msgspec

from app.config import ConfigError

DEFAULT_ROLE = "user"


def parse_roles(raw: str | None) -> tuple[str, ...]:
    """Better-Auth's `user.role`: a comma-separated list; NULL or empty means `user`."""
    roles = tuple(r.strip() for r in (raw or "").split(",") if r.strip())
    return roles or (DEFAULT_ROLE,)


class RolePermissions:
    """`{"admin": {"klaviyo": ["view", "manage"]}, ...}`: which role may do what on what."""

    def __init__(self, grants: Mapping[str, Mapping[str, Iterable[str]]]) -> None:
        self._grants = {
            role: {resource: frozenset(actions) for resource, actions in statements.items()}
            for role, statements in grants.items()
        }

    @classmethod
    def load(cls, path: Path) -> RolePermissions:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"KLAVIYO_ROLES_FILE {path} cannot be read: {exc}") from None
        try:
            grants = msgspec.json.decode(raw, type=dict[str, dict[str, list[str]]])
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ConfigError(
                f"KLAVIYO_ROLES_FILE {path} must map role -> resource -> [actions]: {exc}"
            ) from None
        return cls(grants)

    def allows(self, roles: Iterable[str], resource: str, action: str) -> bool:
        """A user passes when any one of their roles grants the action."""
        return any(action in self._grants.get(role, {}).get(resource, ()) for role in roles)
