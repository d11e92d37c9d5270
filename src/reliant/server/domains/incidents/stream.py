"""An incident's live timeline over Server-Sent Events, on the event log's own stream.

The event log's stream (``reliant.server.events.stream``) does the work — polling, wake-ups
on commit, the gap grace, keepalives, ``Last-Event-ID`` resumption, shutdown — with a
filter that is the timeline's SQL condition; each event it sends is rewritten here as a
timeline entry (event name ``entry``). Block ids stay event ids, so a client resumes with
``Last-Event-ID`` exactly as on ``/api/v1/events/stream``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial

import anyio
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

from reliant.server.domains.incidents import timeline
from reliant.server.events import EventFilter
from reliant.server.events.stream import events
from reliant.server.streams import Closing

#: The SSE event name of a timeline entry.
ENTRY = "entry"


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineFilter(EventFilter):
    """The event filter of one incident's timeline (:func:`timeline.condition`)."""

    incident: int = 0
    start: float = 0.0

    def conditions(self) -> list[ColumnElement[bool]]:
        """The timeline's condition, re-read from the incident's links on every query."""
        return [timeline.condition(self.incident, start=self.start)]


def rewrite(chunk: str, pinned: Callable[[], set[str]]) -> str:
    """The stream's text with each event block replaced by its timeline entry.

    Args:
        chunk: blocks as ``reliant.server.events.stream`` writes them.
        pinned: reads the incident's pinned keys (called only when an event is present).
    """
    out: list[str] = []
    keys: set[str] | None = None
    for block in chunk.split("\n\n"):
        if not block:
            continue
        lines = block.split("\n")
        data = next((line[6:] for line in lines if line.startswith("data: ")), None)
        if data is None or not lines[0].startswith("id: "):
            out.append(block + "\n\n")
            continue
        if keys is None:
            keys = pinned()
        entry = timeline.entry(json.loads(data), keys)
        payload = json.dumps(entry, separators=(",", ":"))
        out.append(f"{lines[0]}\nevent: {ENTRY}\ndata: {payload}\n\n")
    return "".join(out)


async def entries(
    request: Request,
    incident_id: int,
    *,
    start: float,
    after: int,
    sessions: sessionmaker[Session],
    server_now: Callable[[], float],
    closing: Closing,
) -> AsyncIterator[str]:
    """The stream's body: the timeline's entries after event id ``after``, then live ones."""
    flt = TimelineFilter(incident=incident_id, start=start)
    body = events(
        request, flt, after=after, sessions=sessions, server_now=server_now, closing=closing
    )
    read_pins = partial(_pinned, sessions, incident_id)
    async for chunk in body:
        if "\ndata: " in chunk:
            yield await anyio.to_thread.run_sync(rewrite, chunk, read_pins)
        else:
            yield chunk


def _pinned(sessions: sessionmaker[Session], incident_id: int) -> set[str]:
    with sessions() as session:
        return timeline.pinned_keys(session, incident_id)
