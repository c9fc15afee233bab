"""The main job's listening ports: free before any child starts, or moved, or a clear refusal.

A port taken by another program would otherwise fail late and far from its cause: the API's
start-up check would take the stranger's answer for its own, the sandbox would die on bind.
Ports the operator set are claimed first and never moved: a taken one stops the run, naming
it. A default port that is taken moves up to the next free one (the printed URLs follow it).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from app.config import ANY_ADDRESSES, Config, ConfigError
from app.local_ports import next_free_port, port_is_free
from app.runner.processes import note


class _Listener(msgspec.Struct):
    variable: str
    what: str
    host: str
    port: int


def claim_ports(config: Config, environ: Mapping[str, str]) -> Config:
    """`config` with the API's port, and the sandbox's in sandbox mode, free to bind."""
    listeners = [_Listener("PORT", "admin API", config.host.strip(), config.port)]
    if config.sandbox_mode:
        listeners.append(_Listener("SANDBOX_PORT", "sandbox", "127.0.0.1", config.sandbox_port))
    chosen = [item for item in listeners if (environ.get(item.variable) or "").strip()]
    claimed: dict[int, str] = {}
    for item in chosen:
        if item.port in claimed:
            raise ConfigError(
                f"{item.variable}={item.port} is {claimed[item.port]} too; give each its own"
            )
        if not port_is_free(item.host, item.port):
            raise ConfigError(
                f"{item.variable}={item.port}: {item.host or 'every address'}:{item.port} is "
                f"in use by another program; stop it or set {item.variable} to a free port"
            )
        claimed[item.port] = f"{item.variable}, the {item.what}'s port,"
    for item in listeners:
        if item in chosen:
            continue
        if item.port in claimed or not port_is_free(item.host, item.port):
            moved = next_free_port(item.host, item.port + 1, frozenset(claimed))
            note("port_moved", setting=item.variable, taken=item.port, port=moved)
            print(
                f"Port {item.port} is taken: the {item.what} listens on {moved} instead "
                f"(set {item.variable} to choose).",
                flush=True,
            )
            item.port = moved
        claimed[item.port] = f"{item.variable}, the {item.what}'s port,"
    api_port = listeners[0].port
    if api_port != config.port:
        config = config.listening_on(config.host, api_port)
    if config.sandbox_mode:
        config = msgspec.structs.replace(config, sandbox_port=listeners[1].port)
    return config


def local_url(host: str, port: int) -> str:
    """The URL this machine reaches a server listening on host:port by."""
    host = host.strip()
    if host in ANY_ADDRESSES:  # every interface includes the loopback one
        host = "::1" if host == "::" else "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
