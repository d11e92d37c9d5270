"""Notify: receivers (PagerDuty, Opsgenie, Slack, webhook, email) and the durable outbox.

The facade other domains use: ``enqueue`` puts a notification in the outbox in the
caller's transaction; the ``notify.deliver`` job sends it, at least once, in order per
receiver and dedup key. ``get_receiver`` looks a receiver up by name; ``key_warning``
says what is wrong with ``RELIANT_SECRET_KEY``.
"""

from reliant.server.domains.notify.crypto import SECRET_KEY_ENV, key_warning
from reliant.server.domains.notify.service import STATES, STATUSES, enqueue, get_receiver

__all__ = ["SECRET_KEY_ENV", "STATES", "STATUSES", "enqueue", "get_receiver", "key_warning"]
