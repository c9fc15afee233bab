"""The Klaviyo API client: one authenticated JSON:API request, and Klaviyo's errors parsed.

Retry, rate budget and batching live with the drains, around `request`, not inside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import msgspec

from app.logs import redact_text

JSON_API = "application/vnd.api+json"


class KlaviyoApiError(Exception):
    """Klaviyo answered >= 400; the first entry of its `errors[]` and Retry-After, if any."""

    def __init__(
        self,
        status: int,
        *,
        code: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        pointer: str | None = None,
        retry_after: float | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.title = title
        self.detail = redact_text(detail) if detail else detail
        self.pointer = pointer
        self.retry_after = retry_after
        self.errors = errors or []
        super().__init__(self.summary())

    def summary(self) -> str:
        parts = [f"Klaviyo {self.status}"]
        if self.code:
            parts.append(self.code)
        if self.detail or self.title:
            parts.append(str(self.detail or self.title))
        if self.pointer:
            parts.append(f"at {self.pointer}")
        return ": ".join(parts[:2]) + (" — " + " ".join(parts[2:]) if len(parts) > 2 else "")

    @classmethod
    def from_response(cls, response: httpx.Response) -> KlaviyoApiError:
        errors: list[dict[str, Any]] = []
        try:
            body = msgspec.json.decode(response.content)
            if isinstance(body, dict) and isinstance(body.get("errors"), list):
                errors = [e for e in body["errors"] if isinstance(e, dict)]
        except msgspec.DecodeError:
            pass
        first = errors[0] if errors else {}
        source = first.get("source") if isinstance(first.get("source"), dict) else {}
        return cls(
            response.status_code,
            code=first.get("code"),
            title=first.get("title"),
            detail=first.get("detail"),
            pointer=source.get("pointer") if source else None,
            retry_after=_retry_after(response),
            errors=errors,
        )


class KlaviyoUnusableAnswer(Exception):
    """Klaviyo answered < 400 with a body that does not carry what was asked for."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"Klaviyo {status}: {reason}")


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


class KlaviyoClient:
    """Talks to one Klaviyo account; the shared httpx client carries timeouts and pooling."""

    def __init__(self, base_url: str, api_key: str, revision: str, http: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.revision = revision
        self._http = http
        self._headers = {
            "Authorization": f"Klaviyo-API-Key {api_key}",
            "revision": revision,
            "accept": JSON_API,
        }

    def __repr__(self) -> str:
        return f"KlaviyoClient(base_url={self.base_url!r}, revision={self.revision!r})"

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """Send one request; answer the response when < 400, else raise KlaviyoApiError.

        `path` is relative to the base URL ("/api/profiles") or a full URL Klaviyo gave us
        (a `links.next`). Transport failures propagate as httpx.TransportError.
        """
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"
        headers = dict(self._headers)
        content = None
        if json is not None:
            headers["content-type"] = JSON_API
            content = msgspec.json.encode(json)
        response = await self._http.request(
            method, url, headers=headers, content=content, params=params
        )
        if response.status_code >= 400:
            raise KlaviyoApiError.from_response(response)
        return response

    async def get_account(self) -> dict[str, Any]:
        """The account the key belongs to (`data[0]` of GET /api/accounts).

        Raises KlaviyoUnusableAnswer when the answer is not an error yet names no account.
        """
        response = await self.request("GET", "/api/accounts")
        try:
            body = msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            raise KlaviyoUnusableAnswer(response.status_code, "the body is not JSON") from None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not data or not isinstance(data[0], dict):
            raise KlaviyoUnusableAnswer(response.status_code, "the body names no account")
        account_id = data[0].get("id")
        if not isinstance(account_id, str) or not account_id:
            raise KlaviyoUnusableAnswer(response.status_code, "the account has no id")
        return data[0]
