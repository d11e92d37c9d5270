"""`kill -9` of the server during ingest loses no acknowledged event, on either store."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
from postgres_engine import free_port
from server_helpers import ADMIN, bearer
from server_processes import control_plane, wait_for
from sqlalchemy import select

from reliant.server.db import make_engine, session_factory
from reliant.server.events import EventRow

#: Events per batch, and batches each writer sends at most.
BATCH = 50
MAX_BATCHES = 400


def test_kill_9_loses_no_acknowledged_event(db_url: str, tmp_path: Path) -> None:
    """Every event in a 202-acknowledged batch is stored after the server is SIGKILLed."""
    port = free_port()
    acked: list[int] = []
    lock = threading.Lock()
    server = control_plane(port, tmp_path / "data", {"RELIANT_DATABASE_URL": db_url})
    url = server.url

    def writer(first: int) -> None:
        with httpx.Client(base_url=url, headers=bearer(ADMIN), timeout=10) as client:
            for b in range(MAX_BATCHES):
                seqs = [first + b * BATCH + i for i in range(BATCH)]
                body = {"events": [{"kind": "test.crash", "attributes": {"seq": s}} for s in seqs]}
                try:
                    response = client.post("/api/v1/events", json=body)
                except httpx.HTTPError:
                    return  # the server died mid-request: not acknowledged
                if response.status_code == 202:
                    with lock:
                        acked.extend(seqs)

    writers = [threading.Thread(target=writer, args=(n * 10**6,)) for n in range(2)]
    for w in writers:
        w.start()
    wait_for(lambda: len(acked) >= 20 * BATCH, "some acknowledged batches")
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    killed_at = time.monotonic()
    for w in writers:
        w.join(timeout=30)
    assert time.monotonic() - killed_at < 30
    with lock:
        acknowledged = set(acked)

    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            stored = {
                int(attrs["seq"])
                for attrs in session.scalars(
                    select(EventRow.attributes).where(EventRow.kind == "test.crash")
                )
            }
    finally:
        engine.dispose()
    assert set() == acknowledged - stored
