"""The main job's ports against real sockets: a taken default moves, a taken choice stops."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import msgspec
import pytest

from app.config import Config
from app.runner.ports import claim_ports, port_is_free


@pytest.fixture
def listener() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def _config(api_port: int, sandbox_port: int, *, sandbox: bool = True) -> Config:
    config = Config.from_environ({}).listening_on("127.0.0.1", api_port)
    return msgspec.structs.replace(config, sandbox_port=sandbox_port, sandbox_mode=sandbox)


def _free() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_free_ports_stay() -> None:
    api, sandbox = _free(), _free()
    config = claim_ports(_config(api, sandbox), {})
    assert (config.port, config.sandbox_port) == (api, sandbox)


def test_a_taken_default_port_moves_and_the_origins_follow(listener: int, capsys) -> None:
    config = claim_ports(_config(listener, _free()), {})
    assert config.port != listener and port_is_free("127.0.0.1", config.port)
    assert f"http://127.0.0.1:{config.port}" in config.trusted_origins
    assert f"Port {listener} is taken: the admin API listens on {config.port}" in (
        capsys.readouterr().out
    )


def test_a_taken_sandbox_default_moves(listener: int) -> None:
    api = _free()
    config = claim_ports(_config(api, listener), {})
    assert config.sandbox_port not in (listener, api)
    assert config.port == api


def test_a_taken_port_the_operator_chose_stops_the_run_naming_it(listener: int) -> None:
    with pytest.raises(RuntimeError, match=f"PORT={listener}: another program already listens"):
        claim_ports(_config(listener, _free()), {"PORT": str(listener)})
    with pytest.raises(RuntimeError, match=f"SANDBOX_PORT={listener}: another program"):
        claim_ports(_config(_free(), listener), {"SANDBOX_PORT": str(listener)})


def test_the_sandbox_never_shares_the_api_port() -> None:
    api = _free()
    moved = claim_ports(_config(api, api), {"PORT": str(api)})
    assert moved.port == api and moved.sandbox_port != api
    with pytest.raises(RuntimeError, match="the admin API already listens"):
        claim_ports(_config(api, api), {"PORT": str(api), "SANDBOX_PORT": str(api)})


def test_without_the_sandbox_its_port_is_left_alone(listener: int) -> None:
    config = claim_ports(_config(_free(), listener, sandbox=False), {})
    assert config.sandbox_port == listener
