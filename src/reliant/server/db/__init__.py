"""The store: declarative base, engines, sessions and migrations (the layer every domain uses)."""

from reliant.server.db.base import Base, BigId, Json
from reliant.server.db.engine import make_engine, normalize_url, session_factory, transaction
from reliant.server.db.migrate import upgrade

__all__ = [
    "Base",
    "BigId",
    "Json",
    "make_engine",
    "normalize_url",
    "session_factory",
    "transaction",
    "upgrade",
]
