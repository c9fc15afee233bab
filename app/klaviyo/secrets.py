"""Secrets at rest: Fernet encryption with MultiFernet rotation, keyed by APP_ENCRYPTION_KEY."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.config import ConfigError


class SecretUnreadable(Exception):
    """A stored secret was encrypted with a key no longer in APP_ENCRYPTION_KEY."""


class SecretCipher:
    """Encrypts with the newest key; decrypts with any key still listed."""

    def __init__(self, fernet: MultiFernet) -> None:
        self._fernet = fernet

    @classmethod
    def from_keys(cls, keys: Sequence[str]) -> SecretCipher:
        if not keys:
            raise ConfigError(
                "APP_ENCRYPTION_KEY is not set; generate one with "
                '`python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"`'
            )
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode()))
            except ValueError:
                raise ConfigError(
                    f"APP_ENCRYPTION_KEY entry {position} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes)"
                ) from None
        return cls(MultiFernet(fernets))

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(ciphertext)).decode()
        except InvalidToken:
            raise SecretUnreadable(
                "a stored secret cannot be decrypted with any key in APP_ENCRYPTION_KEY"
            ) from None

    def rotate(self, ciphertext: bytes) -> bytes:
        """Re-encrypt with the newest key (after adding a key at the front of the list)."""
        return self._fernet.rotate(bytes(ciphertext))
