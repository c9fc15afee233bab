"""One state row on its way to Klaviyo: its source, its payload, and what became of it."""

from __future__ import annotations

from typing import Any

from app.klaviyo.drain.retry import PushFailure
from app.klaviyo.payloads.profiles import consent_email, consent_of, profile_resource


class ProfilePush:
    """The profile drain's record of one claimed state row."""

    __slots__ = (
        "row",
        "source",
        "resource",
        "warnings",
        "klaviyo_profile_id",
        "failure",
        "pushed_consent",
        "skip_reason",
        "imported",
    )

    def __init__(self, row: dict[str, Any], source: dict[str, Any] | None) -> None:
        self.row = row
        self.source = source
        self.resource: dict[str, Any] | None = None
        self.warnings: list[str] = []
        self.klaviyo_profile_id: str | None = row.get("klaviyo_profile_id")
        self.failure: PushFailure | None = None
        self.pushed_consent: str | None = None
        self.skip_reason: str | None = None
        self.imported = False
        if source is None:
            self.skip_reason = f"customer {row['customer_id']} is not in the store; not pushed"
        elif source.get("deleted_at") is not None:
            self.skip_reason = f"customer {row['customer_id']} is deleted in the store; not pushed"
        else:
            self.resource, self.warnings = profile_resource(
                source, klaviyo_profile_id=row.get("klaviyo_profile_id")
            )

    @property
    def row_id(self) -> Any:
        return self.row["id"]

    @property
    def pushable(self) -> bool:
        return self.resource is not None and self.failure is None

    @property
    def synced(self) -> bool:
        """Klaviyo took the profile and nothing about it has failed since."""
        return self.imported and self.failure is None

    def fail(self, failure: PushFailure) -> None:
        if self.failure is None or (self.failure.retryable and not failure.retryable):
            self.failure = failure

    def wanted_consent(self) -> str | None:
        """The e-mail consent Klaviyo should get, when it differs from what was pushed last.
        A suppression is Klaviyo's verdict (from its webhooks) and is never pushed over."""
        if self.source is None or self.row.get("subscription_status") == "suppressed":
            return None
        wanted = consent_of(self.source)
        if wanted == "never_subscribed" or wanted == self.row.get("pushed_consent"):
            return None
        if consent_email(self.source) is None:
            self.warnings.append(f"e-mail consent '{wanted}' not sent: no valid e-mail address")
            return None
        return wanted

    def warning_text(self) -> str | None:
        return "; ".join(self.warnings) if self.warnings else None
