"""The main job's listening ports: free before any child starts, or moved, or a clear refusal.

A port taken by another program would otherwise fail late and far from its cause: the API's
start-up check would take the stranger's answer for its own, the sandbox would die on bind.
A default port that is taken moves to a free one (the printed URLs follow it); a port the
operator chose is theirs to change, so the run stops and names it.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping

import msgspec

from app.config import Config
from app.runner.processes import note


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the servers bind: a socket of a stopped run lingering in TIME_WAIT does not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def any_free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _claim(
    host: str, port: int, variable: str, environ: Mapping[str, str], what: str, taken: set[int]
) -> int:
    if port not in taken and port_is_free(host, port):
        return port
    if environ.get(variable):
        holder = "the admin API" if port in taken else "another program"
        raise RuntimeError(
            f"{variable}={port}: {holder} already listens on {host}:{port}; stop it or set "
            f"{variable} to a free port"
        )
    moved = any_free_port(host)
    while moved in taken:
        moved = any_free_port(host)
    note("port_moved", setting=variable, taken=port, port=moved)
    print(f"Port {port} is taken: the {what} listens on {moved} instead.", flush=True)
    return moved


def claim_ports(config: Config, environ: Mapping[str, str]) -> Config:
    """`config` with the API's port, and the sandbox's in sandbox mode, free to bind."""
    # An address meaning every interface is probed as the servers will bind it.
    api_host = config.host.strip() or "0.0.0.0"  # noqa: S104 - probed, as the API binds it
    api_port = _claim(api_host, config.port, "PORT", environ, "admin API", set())
    if api_port != config.port:
        config = config.listening_on(config.host, api_port)
    if config.sandbox_mode:
        sandbox_port = _claim(
            "127.0.0.1", config.sandbox_port, "SANDBOX_PORT", environ, "sandbox", {api_port}
        )
        config = msgspec.structs.replace(config, sandbox_port=sandbox_port)
    return config
