"""Sandbox configuration: read once from the environment by the entry point, then passed down."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

DEFAULT_API_KEY = "pk_sandbox_demo_key_0123456789"
RATE_LIMIT_MODES = ("off", "klaviyo")


class SandboxConfigError(ValueError):
    """An environment variable holds a value the sandbox cannot use."""


class SandboxConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the sandbox takes from its environment."""

    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    rate_limits: str = "klaviyo"
    # Seconds a bulk job waits in `queued` and then in `processing` before it completes.
    job_delay_s: float = 0.2
    # Waits between webhook delivery attempts; the number of entries bounds the retries.
    webhook_retry_delays_s: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
    webhook_timeout_s: float = 5.0
    # Seconds a `hang` fault holds a request when the rule names no duration.
    default_hang_s: float = 30.0
    fault_seed: int = 0
    # JSON list of fault rules active from start-up (same shape as POST /__sandbox/faults).
    initial_faults: tuple[dict, ...] = ()
    record_requests: bool = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SandboxConfig:
        keys = tuple(k.strip() for k in environ.get("SANDBOX_API_KEYS", "").split(",") if k.strip())
        mode = environ.get("SANDBOX_RATE_LIMITS", "klaviyo").strip().lower() or "klaviyo"
        if mode not in RATE_LIMIT_MODES:
            raise SandboxConfigError(f"SANDBOX_RATE_LIMITS must be off or klaviyo, got {mode!r}")
        faults_raw = environ.get("SANDBOX_FAULTS", "").strip()
        try:
            faults = tuple(msgspec.json.decode(faults_raw)) if faults_raw else ()
        except msgspec.DecodeError:
            raise SandboxConfigError("SANDBOX_FAULTS must be a JSON list of fault rules") from None
        return cls(
            api_keys=keys or (DEFAULT_API_KEY,),
            rate_limits=mode,
            job_delay_s=_number(environ, "SANDBOX_JOB_DELAY_S", 0.2),
            webhook_retry_delays_s=_numbers(
                environ, "SANDBOX_WEBHOOK_RETRY_DELAYS_S", (1.0, 2.0, 4.0, 8.0, 16.0)
            ),
            webhook_timeout_s=_number(environ, "SANDBOX_WEBHOOK_TIMEOUT_S", 5.0),
            default_hang_s=_number(environ, "SANDBOX_HANG_S", 30.0),
            fault_seed=int(_number(environ, "SANDBOX_FAULT_SEED", 0)),
            initial_faults=faults,
            record_requests=environ.get("SANDBOX_RECORD_REQUESTS", "").lower() in {"1", "true"},
        )


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SandboxConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise SandboxConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def _numbers(
    environ: Mapping[str, str], name: str, default: tuple[float, ...]
) -> tuple[float, ...]:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise SandboxConfigError(f"{name} must be comma-separated numbers, got {raw!r}") from None
