"""Secrets at rest: Fernet under RELIANT_SECRET_KEY, with rotation through a key list."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from reliant.server.domains.notify import crypto

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def test_round_trip_and_the_token_hides_the_secret() -> None:
    """Encrypted values decrypt to themselves; the token does not contain them."""
    ring = crypto.keyring({"RELIANT_SECRET_KEY": NEW})
    token = ring.encrypt({"routing_key": "plain-secret"})
    assert ({"routing_key": "plain-secret"}, False) == (
        ring.decrypt(token),
        "plain-secret" in token,
    )


def test_missing_key_says_how_to_set_one() -> None:
    """Without the variable, the error names it and how to make a key."""
    with pytest.raises(crypto.SecretKeyError, match=r"set RELIANT_SECRET_KEY .*generate_key"):
        crypto.keyring({})


def test_malformed_key_is_refused() -> None:
    """A value that is not a Fernet key is refused with the same advice."""
    with pytest.raises(crypto.SecretKeyError, match="not a Fernet key"):
        crypto.keyring({"RELIANT_SECRET_KEY": "hunter2"})


def test_rotation_encrypts_with_the_first_and_decrypts_with_any() -> None:
    """With NEW,OLD: tokens under OLD still decrypt; new tokens are under NEW."""
    old_token = crypto.keyring({"RELIANT_SECRET_KEY": OLD}).encrypt({"k": "v"})
    both = crypto.keyring({"RELIANT_SECRET_KEY": f"{NEW}, {OLD}"})
    fresh = both.encrypt({"k": "v"})
    assert ({"k": "v"}, False, True, {"k": "v"}) == (
        both.decrypt(old_token),
        both.is_current(old_token),
        both.is_current(fresh),
        crypto.keyring({"RELIANT_SECRET_KEY": NEW}).decrypt(fresh),
    )


def test_rotate_moves_a_token_to_the_current_key() -> None:
    """rotate() re-encrypts under the first key, readable once the old key is dropped."""
    old_token = crypto.keyring({"RELIANT_SECRET_KEY": OLD}).encrypt({"k": "v"})
    moved = crypto.keyring({"RELIANT_SECRET_KEY": f"{NEW},{OLD}"}).rotate(old_token)
    assert {"k": "v"} == crypto.keyring({"RELIANT_SECRET_KEY": NEW}).decrypt(moved)


def test_a_token_under_a_dropped_key_is_undecryptable() -> None:
    """Decrypting with keys that never wrote the token raises UndecryptableError."""
    token = crypto.keyring({"RELIANT_SECRET_KEY": OLD}).encrypt({"k": "v"})
    with pytest.raises(crypto.UndecryptableError, match="RELIANT_SECRET_KEY"):
        crypto.keyring({"RELIANT_SECRET_KEY": NEW}).decrypt(token)


def test_key_warning_only_when_unusable() -> None:
    """key_warning() is None with a good key and explains the problem otherwise."""
    assert (None, True) == (
        crypto.key_warning({"RELIANT_SECRET_KEY": NEW}),
        "cannot be written or sent" in str(crypto.key_warning({})),
    )
