"""`python -m app settings get|set`: typed values, clear refusals, secrets shown masked."""

from __future__ import annotations

import psycopg
import pytest

from app.klaviyo.settings import KlaviyoSettings, SettingError, coerce_setting, load_settings_sync
from tests.cli_helpers import cli_env, run_cli


@pytest.fixture
def env(clean_db, tmp_path, test_secrets):
    auth_secret, encryption_key = test_secrets
    return cli_env(
        clean_db, tmp_path, BETTER_AUTH_SECRET=auth_secret, APP_ENCRYPTION_KEY=encryption_key
    )


def test_get_lists_every_setting_with_its_default(env):
    result = run_cli("settings", "get", env=env)

    assert result.returncode == 0, result.stderr
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert lines["revision"] == "2026-07-15"
    assert lines["sync_enabled"] == "true"
    assert lines["consent_polling_enabled"] == "false"
    assert lines["api_key"] == "(not set)"
    assert lines["webhook_secret"] == "(not set)"


def test_set_changes_what_the_typed_accessor_reads(env, clean_db):
    result = run_cli("settings", "set", "event_sync_enabled", "off", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "event_sync_enabled = false"
    assert run_cli("settings", "get", "event_sync_enabled", env=env).stdout.strip() == "false"
    with psycopg.connect(clean_db) as conn:
        settings = load_settings_sync(conn)
    assert settings.event_sync_enabled is False
    assert settings.surface_enabled("event") is False
    assert settings.surface_enabled("profile") is True


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (("set", "no_such_switch", "true"), "unknown setting 'no_such_switch'"),
        (("set", "sync_enabled", "maybe"), "sync_enabled must be true or false"),
        (("set", "revision", "latest"), "revision must look like YYYY-MM-DD"),
        (("set", "api_key", "pk_abcdefghijklmnopqrstu"), "POST /admin/klaviyo/connect"),
        (("get", "nope"), "unknown setting 'nope'"),
    ],
)
def test_bad_names_and_values_are_refused_clearly(env, args, complaint):
    result = run_cli("settings", *args, env=env)

    assert result.returncode == 2
    assert complaint in result.stderr
    assert "pk_abcdefghijklmnopqrstu" not in result.stdout + result.stderr


def test_the_webhook_secret_is_read_from_stdin_stored_encrypted_and_shown_masked(env, clean_db):
    secret = "whsec_from_stdin_0123456789"

    result = run_cli("settings", "set", "webhook_secret", "-", env=env, stdin=secret + "\n")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "webhook_secret = ****6789"
    shown = run_cli("settings", "get", env=env)
    assert secret not in shown.stdout + shown.stderr
    with psycopg.connect(clean_db) as conn:
        (stored,) = conn.execute("SELECT webhook_secret_encrypted FROM klaviyo.settings").fetchone()
    assert secret.encode() not in bytes(stored)


def test_coercion_accepts_typed_and_shell_values():
    assert coerce_setting("sync_enabled", True) is True
    assert coerce_setting("sync_enabled", "0") is False
    assert coerce_setting("revision", " 2025-01-15.pre ") == "2025-01-15.pre"
    with pytest.raises(SettingError, match="unknown setting"):
        coerce_setting("sync", True)


def test_categories_share_the_catalog_switch_and_unknown_surfaces_are_refused():
    settings = KlaviyoSettings(catalog_sync_enabled=False)

    assert settings.surface_enabled("catalog") is False
    assert settings.surface_enabled("webhook_ingest") is True
    with pytest.raises(SettingError, match="unknown surface"):
        settings.surface_enabled("categories")  # type: ignore[arg-type]


def test_a_deployment_without_its_secrets_is_refused_and_nothing_is_generated(clean_db, tmp_path):
    # Its own database and the real Klaviyo: a secret generated on this machine alone would
    # differ from the other processes' and could not decrypt what they stored.
    env = cli_env(clean_db, tmp_path, KLAVIYO_BASE_URL="https://a.klaviyo.com")
    result = run_cli("settings", "get", env=env)

    assert result.returncode == 2
    assert "APP_ENCRYPTION_KEY is unset" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "secrets" / "better_auth_secret").exists()
    assert not (tmp_path / "secrets" / "app_encryption_key").exists()
