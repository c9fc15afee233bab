"""TCP ports on this machine: whether one is free to listen on, and the next one that is.

The embedded PostgreSQL and the main job's servers all probe the same way, as the servers bind:
every address of the host, each family alone, a socket lingering in TIME_WAIT not counted.
"""

from __future__ import annotations

import errno
import socket

from app.config import ConfigError

# How far above a taken port to look before asking the system for any free one.
_SEARCH_ABOVE = 100


def port_is_free(host: str, port: int) -> bool:
    """Whether `port` could be bound on every address of `host`. Only an address in use makes
    it taken; a host that is no address here, or a port we may not bind, is an error."""
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


def next_free_port(host: str, preferred: int, avoid: frozenset[int] = frozenset()) -> int:
    """`preferred` if free, else the next free port above it (stable URLs from run to run),
    else any free port the system gives."""
    for port in range(preferred, min(preferred + _SEARCH_ABOVE, 65535) + 1):
        if port not in avoid and port_is_free(host, port):
            return port
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in avoid and port_is_free(host, port):
            return port
