"""Secrets at rest: Fernet tokens under keys read from ``RELIANT_SECRET_KEY``.

The variable holds one Fernet key, or several separated by commas for rotation: the first
encrypts, any of them decrypts. Keys are read on every use (``keyring(env)``), so a test
or a restarted server sees the environment as it is now.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

#: The environment variable holding the secret key(s).
SECRET_KEY_ENV = "RELIANT_SECRET_KEY"
#: What to tell an operator whose server has no usable key.
HOW_TO_SET = (
    f"set {SECRET_KEY_ENV} to a Fernet key in the server's environment and restart it; "
    'make one with `python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"`'
    " (several keys separated by commas rotate: the first encrypts, any decrypts)"
)


class SecretKeyError(RuntimeError):
    """The server has no usable secret key; the message says how to set one."""


class UndecryptableError(RuntimeError):
    """No configured key decrypts a stored secret (the key it was written with is gone)."""


class Keyring:
    """Encrypts secret settings with the first key and decrypts with any.

    Args:
        keys: Fernet keys (url-safe base64 of 32 bytes), the current one first.

    Raises:
        SecretKeyError: no key, or a key that is not a Fernet key.
    """

    def __init__(self, keys: tuple[str, ...]) -> None:
        if not keys:
            raise SecretKeyError(f"the server has no secret key: {HOW_TO_SET}")
        try:
            self._fernets = [Fernet(key.encode()) for key in keys]
        except (ValueError, TypeError):
            raise SecretKeyError(
                f"{SECRET_KEY_ENV} holds a key that is not a Fernet key (32 url-safe "
                f"base64-encoded bytes): {HOW_TO_SET}"
            ) from None
        self._multi = MultiFernet(self._fernets)

    def encrypt(self, values: Mapping[str, str]) -> str:
        """The token of ``values`` (a JSON object), under the current key."""
        return self._multi.encrypt(json.dumps(dict(values), sort_keys=True).encode()).decode()

    def decrypt(self, token: str) -> dict[str, str]:
        """The values a token holds.

        Raises:
            UndecryptableError: no configured key decrypts it.
        """
        try:
            data = self._multi.decrypt(token.encode())
        except InvalidToken:
            raise UndecryptableError(
                f"no key in {SECRET_KEY_ENV} decrypts this receiver's secrets: keep the key they "
                "were written with in the list (after the new one) or write the secrets again"
            ) from None
        values = json.loads(data)
        assert isinstance(values, dict)
        return {str(k): str(v) for k, v in values.items()}

    def is_current(self, token: str) -> bool:
        """Whether ``token`` is under the current (first) key."""
        try:
            self._fernets[0].decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted under the current key.

        Raises:
            UndecryptableError: no configured key decrypts it.
        """
        try:
            return self._multi.rotate(token.encode()).decode()
        except InvalidToken:
            raise UndecryptableError(f"no key in {SECRET_KEY_ENV} decrypts the token") from None


def split_keys(value: str) -> tuple[str, ...]:
    """The keys of a ``RELIANT_SECRET_KEY`` value, in order, blanks dropped."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


@functools.lru_cache(maxsize=8)
def _cached(keys: tuple[str, ...]) -> Keyring:
    return Keyring(keys)


def keyring(env: Mapping[str, str] | None = None) -> Keyring:
    """The keyring the environment configures now.

    Args:
        env: the environment to read (``os.environ`` when omitted): the test seam.

    Raises:
        SecretKeyError: the variable is unset, empty or holds a malformed key.
    """
    env = os.environ if env is None else env
    return _cached(split_keys(env.get(SECRET_KEY_ENV, "")))


def key_warning(env: Mapping[str, str] | None = None) -> str | None:
    """What is wrong with the configured secret key, or ``None`` when it is usable."""
    try:
        keyring(env)
    except SecretKeyError as exc:
        return f"{exc}; receivers' secrets cannot be written or sent until then"
    return None
