"""Every operator command answers --help, and the top-level help lists them."""

from __future__ import annotations

import pytest

from app.cli.main import main


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["status"], ["--json", "dashboard_surface_status"]),
        (["bootstrap"], ["--wait", "--timeout", "profiles,catalog,categories"]),
        (["failed"], ["--limit", "--page", "--json", "profiles,events,catalog,categories,coupons"]),
        (["resync"], ["enqueued: true|false", "profiles,events,catalog,categories,coupons"]),
        (["load", "superstore"], ["--show-rejected"]),
    ],
)
def test_help_of_each_command(capsys, command: list[str], expected: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m app {' '.join(command)}")
    flat = " ".join(out.split())  # argparse wraps lines at the terminal width
    for text in expected:
        assert text in flat


def test_top_level_help_lists_the_operator_commands(operator) -> None:
    result = operator("--help")
    assert result.returncode == 0
    for command in ("status", "bootstrap", "failed", "resync", "load"):
        assert f"\n    {command}" in result.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["bootstrap", "coupons"],
        ["failed", "orders"],
        ["resync", "events"],
        ["bootstrap", "profiles", "--timeout", "soon"],
    ],
)
def test_argument_errors_exit_2_naming_the_argument(capsys, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error: " in err
    assert any(name in err for name in ("surface", "id", "--timeout"))
