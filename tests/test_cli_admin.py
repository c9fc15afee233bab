"""`python -m app admin token` and the local secrets a fresh machine gets on first use."""

from __future__ import annotations

import stat

import pytest

from app.auth.signing import verified_token
from tests.cli_helpers import cli_env, run_cli

pytestmark = pytest.mark.asyncio


async def test_the_printed_token_opens_the_api(api, clean_db, tmp_path, test_config):
    env = cli_env(
        clean_db,
        tmp_path,
        BETTER_AUTH_SECRET=test_config.better_auth_secret,
        APP_ENCRYPTION_KEY=test_config.app_encryption_keys[0],
    )

    first = run_cli("admin", "token", "--email", "ops@example.test", "--role", "admin", env=env)
    again = run_cli("admin", "token", "--email", "ops@example.test", "--role", "admin", env=env)

    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert verified_token(token, test_config.better_auth_secret) is not None
    assert again.stdout.strip() == token  # the live session is reused
    response = await api.get("/admin/klaviyo/status", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


async def test_the_role_given_is_the_role_the_session_has(api, clean_db, tmp_path, test_config):
    env = cli_env(
        clean_db,
        tmp_path,
        BETTER_AUTH_SECRET=test_config.better_auth_secret,
        APP_ENCRYPTION_KEY=test_config.app_encryption_keys[0],
    )
    token = run_cli("admin", "token", "--email", "s@example.test", "--role", "support", env=env)

    headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
    assert (await api.get("/admin/klaviyo/status", headers=headers)).status_code == 200
    assert (await api.delete("/admin/klaviyo/connect", headers=headers)).status_code == 403


async def test_without_secrets_they_are_generated_once_kept_private_and_never_logged(
    clean_db, tmp_path
):
    env = cli_env(clean_db, tmp_path)

    first = run_cli("admin", "token", "--email", "a@example.test", env=env)
    second = run_cli("admin", "token", "--email", "a@example.test", env=env)

    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    auth_file = tmp_path / "secrets" / "better_auth_secret"
    key_file = tmp_path / "secrets" / "app_encryption_key"
    for path in (auth_file, key_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text().strip() not in first.stderr + second.stderr
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700
    assert "local_secret_generated" in first.stderr
    assert verified_token(first.stdout.strip(), auth_file.read_text().strip()) is not None


async def test_a_bad_email_is_refused(clean_db, tmp_path):
    result = run_cli("admin", "token", "--email", "nobody", env=cli_env(clean_db, tmp_path))

    assert result.returncode == 2
    assert "--email must be an email address" in result.stdout
