"""`python -m app admin token` and the local secrets a fresh machine gets on first use."""

from __future__ import annotations

import stat

import pytest

from app.auth.signing import verified_token
from tests.cli_helpers import cli_env, run_cli

pytestmark = pytest.mark.asyncio


def _env_with_secrets(database_url, data_dir, config) -> dict[str, str]:
    """The CLI's environment with the test session's secrets, as a deployment sets them."""
    return cli_env(
        database_url,
        data_dir,
        BETTER_AUTH_SECRET=config.better_auth_secret,
        APP_ENCRYPTION_KEY=config.app_encryption_keys[0],
    )


async def test_the_printed_token_opens_the_api(api, clean_db, tmp_path, test_config):
    env = _env_with_secrets(clean_db, tmp_path, test_config)

    first = run_cli("admin", "token", "--email", "ops@example.test", "--role", "admin", env=env)
    again = run_cli("admin", "token", "--email", "ops@example.test", "--role", "admin", env=env)

    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert verified_token(token, test_config.better_auth_secret) is not None
    assert again.stdout.strip() == token  # the live session is reused
    response = await api.get("/admin/klaviyo/status", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


async def test_the_role_given_is_the_role_the_session_has(api, clean_db, tmp_path, test_config):
    env = _env_with_secrets(clean_db, tmp_path, test_config)
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


async def _role_of(db_pool, email: str) -> str | None:
    async with db_pool.connection() as conn:
        cur = await conn.execute('SELECT role FROM "user" WHERE email = %s', (email,))
        return (await cur.fetchone())[0]


async def test_an_existing_users_role_is_left_alone_and_the_output_says_so(
    api, db_pool, session_headers, clean_db, tmp_path, test_config
):
    await session_headers("support", email="platform-user@example.test")
    env = _env_with_secrets(clean_db, tmp_path, test_config)

    result = run_cli(
        "admin", "token", "--email", "platform-user@example.test", "--role", "admin", env=env
    )

    assert result.returncode == 0, result.stderr
    assert await _role_of(db_pool, "platform-user@example.test") == "support"
    assert "left unchanged" in result.stderr and "--set-role" in result.stderr
    assert "has role support, not admin" in result.stderr
    token = result.stdout.strip()
    assert verified_token(token, test_config.better_auth_secret) is not None
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.get("/admin/klaviyo/status", headers=headers)).status_code == 200
    assert (await api.delete("/admin/klaviyo/connect", headers=headers)).status_code == 403


async def test_set_role_replaces_an_existing_users_role(
    api, db_pool, session_headers, clean_db, tmp_path, test_config
):
    await session_headers("support", email="promoted@example.test")
    env = _env_with_secrets(clean_db, tmp_path, test_config)

    result = run_cli(
        "admin",
        "token",
        "--email",
        "promoted@example.test",
        "--role",
        "admin",
        "--set-role",
        env=env,
    )

    assert result.returncode == 0, result.stderr
    assert await _role_of(db_pool, "promoted@example.test") == "admin"
    assert "Set the role of the existing user promoted@example.test to admin" in result.stderr
    headers = {"Authorization": f"Bearer {result.stdout.strip()}"}
    assert (await api.delete("/admin/klaviyo/connect", headers=headers)).status_code == 200


async def test_a_new_user_gets_the_role_and_the_output_says_so(
    db_pool, clean_db, tmp_path, test_config
):
    env = _env_with_secrets(clean_db, tmp_path, test_config)

    result = run_cli("admin", "token", "--email", "new@example.test", "--role", "support", env=env)

    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1  # only the token: TOKEN=$(...) works
    assert "Created new@example.test with role support." in result.stderr
    assert await _role_of(db_pool, "new@example.test") == "support"
