"""The live event stream: Server-Sent Events read from the database, so every replica's
events arrive, whichever replica the client is connected to.

A stream polls for rows after the last id it has passed, every ``POLL_SECONDS``, and at
once when this process committed an event (``hub.py``). On PostgreSQL, transactions may
commit out of id order: id 11 can be visible while id 10 is still being written. A stream
therefore never passes a missing id until it shows up or has been missing for
``GAP_GRACE`` seconds (then it was rolled back, or pruned), like Marten's high-water mark.
That is what makes resuming from ``Last-Event-ID`` lose nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial

import anyio
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

from reliant.server.events import query
from reliant.server.events.hub import HUB
from reliant.server.events.models import EventRow
from reliant.server.streams import Closing

#: Seconds between two reads of the database when nothing woke the stream.
POLL_SECONDS = 0.5
#: Seconds of silence after which the stream sends a ``: keepalive`` comment.
KEEPALIVE_SECONDS = 15.0
#: Seconds a missing id may stay missing before the stream passes it.
GAP_GRACE = 2.0
#: Ids looked at per read (for gaps), and events sent per read.
SCAN_LIMIT = 1000
BATCH = 500
#: Milliseconds a browser's EventSource waits before reconnecting.
RETRY_MS = 2000


@dataclass(slots=True)
class Position:
    """How far a stream has read: every id up to ``last`` was sent, skipped or given up.

    Attributes:
        last: the highest id passed.
        gap: the missing id being waited for, if any.
        gap_since: when (loop time) the stream started waiting for ``gap``.
        given_up: gaps at or below this id were given up already.
    """

    last: int
    gap: int | None = None
    gap_since: float = 0.0
    given_up: int = 0

    def safe_upto(self, scanned: list[tuple[int, float]], *, now: float, server_now: float) -> int:
        """The highest id up to which every id is present or given up.

        Args:
            scanned: ``(id, received_at)`` of the ids after ``last``, ascending.
            now: the stream's monotonic time (to time a wait for a missing id).
            server_now: the server's wall clock (rows received long ago end a wait at once).
        """
        safe = self.last
        for row_id, received_at in scanned:
            missing = max(safe + 1, self.given_up + 1)
            if row_id > missing:
                if self.gap != missing:
                    self.gap, self.gap_since = missing, now
                if now - self.gap_since < GAP_GRACE and server_now - received_at < GAP_GRACE:
                    return safe
                self.given_up = row_id - 1
            safe = row_id
        return safe


def sse(row: EventRow) -> str:
    """One event in the stream: its id, the fixed name ``event``, and its JSON."""
    data = json.dumps(query.as_dict(row), separators=(",", ":"))
    return f"id: {row.id}\nevent: event\ndata: {data}\n\n"


def read(
    sessions: sessionmaker[Session],
    flt: query.EventFilter,
    position: Position,
    *,
    now: float,
    server_now: float,
) -> tuple[str, bool]:
    """Read the next events for a stream and move its position.

    Returns:
        The events formatted for the stream, and whether more are ready at once.
    """
    with sessions() as session:
        scanned = query.scan(session, after=position.last, limit=SCAN_LIMIT)
        safe = position.safe_upto(scanned, now=now, server_now=server_now)
        if safe <= position.last:
            return "", False
        rows = query.between(session, flt, after=position.last, upto=safe, limit=BATCH)
    if len(rows) == BATCH:
        position.last = rows[-1].id
        return "".join(map(sse, rows)), True
    position.last = safe
    more = len(scanned) == SCAN_LIMIT and safe == scanned[-1][0]
    return "".join(map(sse, rows)), more


async def events(
    request: Request,
    flt: query.EventFilter,
    *,
    after: int | None,
    sessions: sessionmaker[Session],
    server_now: Callable[[], float],
    closing: Closing,
) -> AsyncIterator[str]:
    """The stream's body: events after ``after`` (or from now on), then live ones.

    It ends when the client leaves or the app stops.
    """
    clock = anyio.current_time
    closing.on_close(HUB.poke)
    with HUB.subscribe() as woken:
        start = await anyio.to_thread.run_sync(_newest, sessions)
        position = Position(last=start if after is None else min(after, start))
        # The position first: a client that reconnects before any event resumes from here.
        yield f"retry: {RETRY_MS}\nid: {position.last}\n\n"
        quiet_since = clock()
        while not closing.is_set():
            woken.clear()
            step = partial(read, sessions, flt, position, now=clock(), server_now=server_now())
            chunk, more = await anyio.to_thread.run_sync(step)
            if chunk:
                yield chunk
                quiet_since = clock()
            elif clock() - quiet_since >= KEEPALIVE_SECONDS:
                yield ": keepalive\n\n"
                quiet_since = clock()
            if more:
                continue
            if closing.is_set() or await request.is_disconnected():
                return
            with anyio.move_on_after(POLL_SECONDS):
                await woken.wait()


def _newest(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return query.newest_id(session)
