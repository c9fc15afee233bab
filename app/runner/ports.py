"""The main job's listening ports: free before any child starts, or moved, or a clear refusal.

A port taken by another program would otherwise fail late and far from its cause: the API's
start-up check would take the stranger's answer for its own, the sandbox would die on bind.
Ports the operator set are claimed first and never moved: a taken one stops the run, naming
it. A default port that is taken moves up to the next free one (the printed URLs follow it).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping

import msgspec

from app.config import Config, ConfigError
from app.runner.processes import note

# How far above a taken default port to look before asking the system for any free one.
_SEARCH_ABOVE = 100


def port_is_free(host: str, port: int) -> bool:
    """Whether `port` could be bound on every address of `host`, as the servers bind them:
    each address family alone (IPv6 only on IPv6), lingering TIME_WAIT sockets ignored."""
    try:
        addresses = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ConfigError(f"HOST={host!r} does not resolve to an address: {exc}") from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return False
                raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return True


def _next_free_port(host: str, taken: int, avoid: set[int]) -> int:
    for port in range(taken + 1, min(taken + _SEARCH_ABOVE, 65535) + 1):
        if port not in avoid and port_is_free(host, port):
            return port
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in avoid and port_is_free(host, port):
            return port


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
            moved = _next_free_port(item.host, item.port, set(claimed))
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
    if host in ("", "0.0.0.0"):  # noqa: S104 - every interface includes the loopback one
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
