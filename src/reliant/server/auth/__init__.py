"""Auth: API tokens with roles, web sessions with CSRF protection, and the audit log."""

from reliant.server.auth.roles import Role, allows
from reliant.server.auth.tokens import Principal, issue, verify

__all__ = ["Principal", "Role", "allows", "issue", "verify"]
