"""The main job's ports against real sockets: a taken default moves, a taken choice stops."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import msgspec
import pytest

from app.config import Config, ConfigError
from app.local_ports import port_is_free
from app.runner.main_job import MainJob
from app.runner.ports import claim_ports, local_url
from tests.fixtures.sandbox import free_port


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


def _two_free_ports() -> tuple[int, int]:
    first = free_port()
    second = free_port()
    while second == first:
        second = free_port()
    return first, second


def test_free_ports_stay() -> None:
    api, sandbox = _two_free_ports()
    config = claim_ports(_config(api, sandbox), {})
    assert (config.port, config.sandbox_port) == (api, sandbox)


def test_a_taken_default_port_moves_up_and_the_origins_follow(listener: int, capsys) -> None:
    config = claim_ports(_config(listener, free_port()), {})
    assert config.port > listener and port_is_free("127.0.0.1", config.port)
    assert f"http://127.0.0.1:{config.port}" in config.trusted_origins
    assert f"Port {listener} is taken: the admin API listens on {config.port} instead" in (
        capsys.readouterr().out
    )


def test_a_taken_sandbox_default_moves(listener: int, capsys) -> None:
    api = free_port()
    config = claim_ports(_config(api, listener), {})
    assert config.sandbox_port not in (listener, api)
    assert config.port == api
    assert f"the sandbox listens on {config.sandbox_port}" in capsys.readouterr().out


def test_the_child_processes_get_the_moved_ports(listener: int) -> None:
    config = claim_ports(_config(listener, listener), {})
    job = MainJob(config, dataset="demo", keep_serving=False)
    child = Config.from_environ(job._child_env(config, "postgresql://unused"))
    assert child.port == config.port != listener
    assert child.trusted_origins == config.trusted_origins
    assert child.klaviyo_base_url == f"http://127.0.0.1:{config.sandbox_port}"
    assert config.sandbox_port not in (listener, config.port)


def test_a_taken_port_the_operator_chose_stops_the_run_naming_it(listener: int) -> None:
    taken = f"127.0.0.1:{listener} is in use by another program"
    with pytest.raises(ConfigError, match=f"PORT={listener}: {taken}"):
        claim_ports(_config(listener, free_port()), {"PORT": str(listener)})
    with pytest.raises(ConfigError, match=f"SANDBOX_PORT={listener}: {taken}"):
        claim_ports(_config(free_port(), listener), {"SANDBOX_PORT": str(listener)})


def test_a_chosen_port_wins_over_a_default(capsys) -> None:
    port = free_port()
    config = claim_ports(_config(port, port), {"SANDBOX_PORT": str(port)})
    assert config.sandbox_port == port and config.port != port
    assert "the admin API listens on" in capsys.readouterr().out
    with pytest.raises(ConfigError, match=f"SANDBOX_PORT={port} is PORT, the admin API's port"):
        claim_ports(_config(port, port), {"PORT": str(port), "SANDBOX_PORT": str(port)})


def test_without_the_sandbox_its_port_is_left_alone(listener: int) -> None:
    config = claim_ports(_config(free_port(), listener, sandbox=False), {})
    assert config.sandbox_port == listener


def test_a_host_that_is_no_address_is_named() -> None:
    with pytest.raises(ConfigError, match="HOST='nosuchhost.invalid' does not resolve"):
        port_is_free("nosuchhost.invalid", free_port())


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("0.0.0.0", "http://127.0.0.1:8000"),  # noqa: S104 - a HOST value, not a bind
        ("", "http://127.0.0.1:8000"),
        ("::", "http://[::1]:8000"),
        ("::1", "http://[::1]:8000"),
        ("localhost", "http://localhost:8000"),
    ],
)
def test_local_url_reaches_the_listener(host: str, url: str) -> None:
    assert local_url(host, 8000) == url


@pytest.mark.parametrize("raw", ["0", "70000", "-1"])
def test_a_port_out_of_range_is_named(raw: str) -> None:
    with pytest.raises(ConfigError, match=f"PORT must be a port number from 1 to 65535, got {raw}"):
        Config.from_environ({"PORT": raw})
