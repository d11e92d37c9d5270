"""Signed links that acknowledge or resolve a page without a login.

A link names the action, the page, the receiver it was sent to and when it expires, and
carries ``sig``: HMAC-SHA256 of those four under a random 256-bit key. The key is made on
first use and kept in ``server_settings`` (``oncall.link_key``), so every replica signs and
checks with the same one. Opening a link (``GET``) only shows a form; posting the form with
the same signature acts, recorded as ``by link:<receiver>``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import quote, urlencode

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reliant.server.events.models import ServerSetting

#: Key of the signing key in ``server_settings``.
KEY_SETTING = "oncall.link_key"
#: Seconds a link works after it was sent.
LINK_TTL = 86400.0
#: What a link may do.
ACTIONS = ("acknowledge", "resolve")


def _stored(session: Session) -> bytes | None:
    row = session.get(ServerSetting, KEY_SETTING, populate_existing=True)
    if row is None or not isinstance(row.value.get("key"), str):
        return None
    return bytes.fromhex(row.value["key"])


def signing_key(session: Session, now: float) -> bytes:
    """The links' key, made (256 random bits) and stored on first use."""
    key = _stored(session)
    if key is not None:
        return key
    try:
        with session.begin_nested():
            session.add(
                ServerSetting(
                    key=KEY_SETTING,
                    value={"key": secrets.token_hex(32)},
                    updated_at=now,
                    updated_by="system:oncall",
                )
            )
    except IntegrityError:  # another replica stored one at the same moment: use it
        pass
    key = _stored(session)
    assert key is not None
    return key


def signature(key: bytes, *, action: str, page_id: int, receiver: str, expires: int) -> str:
    """The hex HMAC-SHA256 of ``action``, ``page_id``, ``receiver`` and ``expires``."""
    message = "\n".join((action, str(page_id), receiver, str(expires))).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def path(action: str, page_id: int) -> str:
    """The path of a page's link (without its query)."""
    return f"/oncall/pages/{page_id}/{action}"


def make(
    session: Session, *, base_url: str, action: str, page_id: int, receiver: str, now: float
) -> str:
    """A link for ``receiver`` to ``action`` page ``page_id``, valid for :data:`LINK_TTL`.

    Raises:
        ValueError: ``action`` is not one of :data:`ACTIONS`.
    """
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    expires = int(now + LINK_TTL)
    sig = signature(
        signing_key(session, now),
        action=action,
        page_id=page_id,
        receiver=receiver,
        expires=expires,
    )
    query = urlencode({"receiver": receiver, "expires": expires, "sig": sig}, quote_via=quote)
    return f"{base_url.rstrip('/')}{path(action, page_id)}?{query}"


def check(
    session: Session,
    *,
    action: str,
    page_id: int,
    receiver: str,
    expires: int,
    sig: str,
    now: float,
) -> str | None:
    """Why the link is refused, or ``None`` when it is genuine and unexpired."""
    key = _stored(session)
    if key is None or action not in ACTIONS:
        return "This link is not valid."
    expected = signature(key, action=action, page_id=page_id, receiver=receiver, expires=expires)
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        return "This link is not valid: it was changed or cut short. Use the link as it was sent."
    if now >= expires:
        return "This link has expired (links work for 24 hours). Sign in to reliant instead."
    return None
