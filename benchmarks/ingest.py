"""Control-plane ingest: events/s and telemetry points/s into a real ``reliant server``.

Starts real ``reliant server`` processes (uvicorn, one worker) on free loopback ports, one
on its embedded SQLite store and one on a PostgreSQL cluster started for the run (with
PostgreSQL's durable defaults: fsync and synchronous commit on). Against each, a few
writer threads send pre-encoded batches as fast as they are acknowledged:

- events through ``POST /api/v1/events``, 1000 and 100 events per batch;
- telemetry through ``POST /api/v1/ingest``: the SDK's gzip batches of 500 points spread
  over services, operations, outcomes and buckets, so that upserts both insert and merge,
  and batches ten times larger (more operations), as a busy service's SDK pushes them;

and, while the 1000-event batches run, a prober asks ``GET /api/v1/events?limit=100``
(unfiltered, and filtered by service) at a modest rate and times every answer. Figures
count only what was acknowledged (202) between a warm-up and the end of the window;
the CPU used meanwhile by the server, by PostgreSQL and by the load generator is read
from ``/proc``. Run it alone: ``python -m benchmarks.ingest [--quick]``.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import _postgres
from benchmarks.harness import Config, Row, Section, Table, Target, render_text, why

TITLE = "Control plane — ingest throughput and API latency under load (real server)"
TOKEN = "rlt_0123456789ab_benchmark-admin-token-0123456789"
SQLITE = "SQLite"
POSTGRES = "PostgreSQL"
#: Events per batch of the event rows; the first is the target's.
EVENT_BATCHES = (1000, 100)
#: Telemetry points per SDK batch: operations × outcomes × buckets.
OPERATIONS, OUTCOMES, BUCKETS = 25, ("success", "failure", "rejected", "timeout"), 5
POINTS = OPERATIONS * len(OUTCOMES) * BUCKETS
#: Operations per batch of each telemetry row (the first is :data:`POINTS`' row), and the
#: bodies prepared for it (full run, quick run).
TELEMETRY_ROWS = {OPERATIONS: (160, 16), 10 * OPERATIONS: (32, 8)}
SERVICES = 20
TELEMETRY_SERVICES = 8
#: Concurrent writer threads, and the prober's requests per second (both queries together).
WRITERS = 4
PROBE_RATE = 20.0
PROBE_SERVICE = "svc-03"
PROBES = {
    "GET /api/v1/events?limit=100": "/api/v1/events?limit=100",
    f"GET /api/v1/events?limit=100&service={PROBE_SERVICE}": (
        f"/api/v1/events?limit=100&service={PROBE_SERVICE}"
    ),
}
#: Events/s the issue asks for, in batches on PostgreSQL.
TARGET = 20_000
#: Telemetry points/s issue 5 asks for, batched, on each store.
POINTS_TARGET = 100_000
#: Bound on a server's start (migrations included) and on one request.
START_TIMEOUT = 60.0
REQUEST_TIMEOUT = 60.0
SERVER_RSS = "server peak RSS MiB"


# -- processes ----------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (Linux ``/proc``), e.g. PostgreSQL's backends."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of ``pids`` (every thread), in seconds."""
    ticks = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    """A ``reliant server`` child process on a loopback port; ``stop`` ends it by PID."""

    process: subprocess.Popen[bytes]
    url: str
    root: Path
    db_pid: int | None

    @classmethod
    def start(cls, database: tuple[str, int] | None) -> Server:
        """Start ``reliant server``: SQLite in a temp dir, or on ``(url, PostgreSQL pid)``."""
        root = Path(tempfile.mkdtemp(prefix="reliant-bench-server-"))
        port = _postgres.free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELIANT_")}
        env["RELIANT_BOOTSTRAP_TOKEN"] = TOKEN
        if database is not None:
            env["RELIANT_DATABASE_URL"] = database[0]
        with (root / "server.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "reliant", "server", "--host", "127.0.0.1",
                 "--port", str(port), "--data-dir", str(root / "data"), "--log-level", "warning"],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        return cls(process, f"http://127.0.0.1:{port}", root, database and database[1])

    def wait_ready(self) -> None:
        """Wait (bounded) until it answers ``/livez``.

        Raises:
            RuntimeError: it exited or did not answer in time.
        """
        import httpx

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                tail = (self.root / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"reliant server exited with {self.process.returncode}: {tail}")
            try:
                if httpx.get(f"{self.url}/livez", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("reliant server did not answer /livez in time")
            time.sleep(0.05)  # readiness probe interval

    def peak_rss_mib(self) -> float | None:
        """The server process's peak resident memory so far (``VmHWM``), in MiB."""
        try:
            with open(f"/proc/{self.process.pid}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def cpu(self) -> tuple[float, float]:
        """CPU seconds used so far by the server and by its PostgreSQL (0 on SQLite)."""
        db = cpu_seconds(process_tree(self.db_pid)) if self.db_pid is not None else 0.0
        return cpu_seconds([self.process.pid]), db

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time; remove its files."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


# -- bodies -------------------------------------------------------------------------------

#: Kinds of docs/events.md, with a severity each.
_KINDS = (
    ("circuit_breaker.state_changed", "warning"),
    ("retry.retrying", "info"),
    ("bulkhead.rejected", "info"),
    ("fallback.used", "info"),
    ("timeout.exceeded", "error"),
)


def event_bodies(size: int, count: int, now: float) -> list[bytes]:
    """``count`` JSON bodies of ``size`` events each, spread over services and kinds."""
    rng = random.Random(size)
    bodies = []
    seq = itertools.count()
    for _ in range(count):
        events = []
        for _ in range(size):
            i = next(seq)
            kind, severity = _KINDS[i % len(_KINDS)]
            event: dict[str, object] = {
                "time": round(now - rng.random() * 60, 6),
                "kind": kind,
                "service": f"svc-{i % SERVICES:02d}",
                "severity": severity,
                "attributes": {"name": f"dep-{i % 7}", "failure_rate": round(rng.random(), 3),
                               "attempt": i % 3 + 1, "seq": i},
            }  # fmt: skip
            if i % 4 == 0:
                event["trace_id"] = f"{rng.getrandbits(128):032x}"
            events.append(event)
        bodies.append(json.dumps({"events": events}, separators=(",", ":")).encode())
    return bodies


def telemetry_bodies(count: int, now: float, operations: int = OPERATIONS) -> list[bytes]:
    """``count`` gzip SDK batches of ``operations`` × 4 outcomes × 5 buckets points each.

    Batch ``i`` is for service ``i % 8``; a service's successive batches cover five
    buckets shifted by two, so three of them merge into existing rows and two insert.
    """
    rng = random.Random(7)
    base = int(now) // 10 * 10 - 3600
    bodies = []
    for i in range(count):
        step = i // TELEMETRY_SERVICES
        points = []
        for b in range(BUCKETS):
            bucket = base + 10 * (2 * step + b)
            for op in range(operations):
                for outcome in OUTCOMES:
                    histogram = [rng.randrange(0, 20) for _ in range(14)]
                    points.append({
                        "operation": f"op-{op:02d}", "outcome": outcome, "bucket": bucket,
                        "count": sum(histogram), "sum": round(sum(histogram) * 0.02, 6),
                        "histogram": histogram,
                    })  # fmt: skip
        batch = {
            "protocol": 1,
            "service": f"svc-{i % TELEMETRY_SERVICES:02d}",
            "instance": f"bench-host:{i % 3}",
            "sdk": "0.1.0",
            "sent_at": now,
            "dropped": 0,
            "telemetry": points,
            "events": [],
        }
        bodies.append(gzip.compress(json.dumps(batch, separators=(",", ":")).encode(), 6))
    return bodies


# -- load ---------------------------------------------------------------------------------


@dataclass
class Load:
    """What one load window measured (CPU as a percentage of one core)."""

    items_per_s: float
    batches_per_s: float
    batch_ms: list[float]
    server_cpu: float
    db_cpu: float
    client_cpu: float
    probe_ms: dict[str, list[float]] = field(default_factory=dict)


def pct(samples: list[float], q: float) -> float | None:
    """The ``q`` quantile of ``samples`` (nearest rank), or ``None`` without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def drive(
    server: Server,
    path: str,
    bodies: list[bytes],
    per_body: int,
    headers: dict[str, str],
    *,
    warmup: float,
    seconds: float,
    probe: bool = False,
) -> Load:
    """Post ``bodies`` round-robin from :data:`WRITERS` threads; measure one window.

    The window opens after ``warmup`` and lasts ``seconds``, or longer until it holds
    :data:`WRITERS` acknowledged batches (and two answers to each probe). With ``probe``,
    one more thread asks the :data:`PROBES` in turn, :data:`PROBE_RATE` times a second
    at most.

    Raises:
        RuntimeError: an answer other than 202 (200 for a probe), or a transport error.
    """
    import httpx

    auth = {"Authorization": f"Bearer {TOKEN}"}
    stop = threading.Event()
    lock = threading.Lock()
    next_body = itertools.count()
    acked = [0, 0]  # items, batches
    batches: list[tuple[float, float]] = []  # (end, ms)
    probes: dict[str, list[tuple[float, float]]] = {k: [] for k in PROBES}
    errors: list[str] = []

    def writer() -> None:
        with httpx.Client(base_url=server.url, headers=auth, timeout=REQUEST_TIMEOUT) as client:
            while not stop.is_set():
                body = bodies[next(next_body) % len(bodies)]
                t0 = time.perf_counter()
                try:
                    response = client.post(path, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    errors.append(f"{path}: {exc!r}")
                    break
                t1 = time.perf_counter()
                if response.status_code != 202:
                    errors.append(f"{path}: {response.status_code} {response.text[:300]}")
                    break
                with lock:
                    acked[0] += per_body
                    acked[1] += 1
                    batches.append((t1, (t1 - t0) * 1000))
        if errors:
            stop.set()

    def prober() -> None:
        interval = 1 / PROBE_RATE
        with httpx.Client(base_url=server.url, headers=auth, timeout=REQUEST_TIMEOUT) as client:
            for label in itertools.cycle(PROBES):
                t0 = time.perf_counter()
                try:
                    response = client.get(PROBES[label])
                except httpx.HTTPError as exc:
                    errors.append(f"{label}: {exc!r}")
                    return
                t1 = time.perf_counter()
                if response.status_code != 200:
                    errors.append(f"{label}: {response.status_code} {response.text[:300]}")
                    return
                with lock:
                    probes[label].append((t1, (t1 - t0) * 1000))
                if stop.wait(max(0.0, interval - (t1 - t0))):
                    return

    threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
    if probe:
        threads.append(threading.Thread(target=prober))
    for t in threads:
        t.start()
    try:
        stop.wait(warmup)
        with lock:
            start, items0, batches0 = time.perf_counter(), acked[0], acked[1]
            probes0 = {k: len(v) for k, v in probes.items()}
        cpu0, client0 = server.cpu(), time.process_time()
        stop.wait(seconds)

        def short() -> bool:
            with lock:
                return acked[1] - batches0 < WRITERS or (
                    probe and any(len(v) - probes0[k] < 2 for k, v in probes.items())
                )

        deadline = time.perf_counter() + REQUEST_TIMEOUT
        while short() and time.perf_counter() < deadline:
            if stop.wait(0.01):
                break
        with lock:
            end, items1, batches1 = time.perf_counter(), acked[0], acked[1]
        cpu1, client1 = server.cpu(), time.process_time()
    finally:
        stop.set()
        for t in threads:
            t.join()
    if errors:
        raise RuntimeError(errors[0])
    span = end - start
    return Load(
        items_per_s=(items1 - items0) / span,
        batches_per_s=(batches1 - batches0) / span,
        batch_ms=[ms for at, ms in batches if start <= at <= end],
        server_cpu=100 * (cpu1[0] - cpu0[0]) / span,
        db_cpu=100 * (cpu1[1] - cpu0[1]) / span,
        client_cpu=100 * (client1 - client0) / span,
        probe_ms={k: [ms for at, ms in v if start <= at <= end] for k, v in probes.items()},
    )


def idle_p50_ms(server: Server, path: str, count: int) -> float | None:
    """The median latency of ``count`` sequential requests to an otherwise idle server."""
    import httpx

    samples = []
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.url, headers=auth, timeout=REQUEST_TIMEOUT) as client:
        for _ in range(count):
            t0 = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
    return pct(samples, 0.5)


# -- the section --------------------------------------------------------------------------

SERVER_CPU = "server CPU %"
DB_CPU = "PostgreSQL CPU %"
CLIENT_CPU = "load generator CPU %"
BATCH_COLUMNS = (
    "batches/s", "p50 ms/batch", "p99 ms/batch", SERVER_CPU, DB_CPU, CLIENT_CPU, SERVER_RSS,
)  # fmt: skip


def _extras(values: dict[str, float | None]) -> dict[str, float]:
    return {k: v for k, v in values.items() if v is not None}


def _fill_batch(row: Row, load: Load, server: Server) -> None:
    row.value = load.items_per_s
    row.extras = _extras(
        {
            "batches/s": load.batches_per_s,
            "p50 ms/batch": pct(load.batch_ms, 0.5),
            "p99 ms/batch": pct(load.batch_ms, 0.99),
            SERVER_CPU: load.server_cpu,
            DB_CPU: load.db_cpu if server.db_pid is not None else None,
            CLIENT_CPU: load.client_cpu,
            SERVER_RSS: server.peak_rss_mib(),
        }
    )


def event_label(store: str, size: int) -> str:
    """The row of ``size``-event batches on ``store``."""
    return f"{store}, {size} events per batch"


def telemetry_label(store: str, operations: int = OPERATIONS) -> str:
    """The telemetry row of ``store`` with batches of ``operations`` operations."""
    return f"{store}, {operations * len(OUTCOMES) * BUCKETS} points per gzip batch"


def latency_label(store: str, probe: str) -> str:
    """The latency row of ``probe`` on ``store``."""
    return f"{store}, {probe}"


def _labels(store: str) -> list[str]:
    return [
        *(event_label(store, size) for size in EVENT_BATCHES),
        *(telemetry_label(store, ops) for ops in TELEMETRY_ROWS),
        *(latency_label(store, k) for k in PROBES),
    ]


def measure(cfg: Config, store: str, server: Server, rows: dict[str, Row]) -> None:
    """Fill every row of one store, measured against its (started) server."""
    warmup, seconds = (0.1, 0.3) if cfg.quick else (0.7, 3.0)
    now = time.time()
    json_headers = {"Content-Type": "application/json"}
    server.wait_ready()
    # A few full pages first, so that the idle probes read 100 events.
    seed = event_bodies(100, 2, now)
    drive(server, "/api/v1/events", seed, 100, json_headers, warmup=0.0, seconds=0.0)
    idle = {k: idle_p50_ms(server, p, 5 if cfg.quick else 20) for k, p in PROBES.items()}
    for size in EVENT_BATCHES:
        first = size == EVENT_BATCHES[0]
        bodies = event_bodies(size, 4 if cfg.quick else 16, now)
        load = drive(
            server, "/api/v1/events", bodies, size, json_headers,
            warmup=warmup, seconds=seconds * (1.5 if first else 1), probe=first,
        )  # fmt: skip
        _fill_batch(rows[event_label(store, size)], load, server)
        for k, samples in load.probe_ms.items() if first else ():
            row = rows[latency_label(store, k)]
            row.value = pct(samples, 0.99)
            row.extras = _extras({"p50 ms": pct(samples, 0.5), "idle p50 ms": idle[k]})
            row.note = f"{len(samples)} answers"
    gzip_headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    for operations, (count, quick_count) in TELEMETRY_ROWS.items():
        bodies = telemetry_bodies(quick_count if cfg.quick else count, now, operations)
        points = operations * len(OUTCOMES) * BUCKETS
        load = drive(
            server, "/api/v1/ingest", bodies, points, gzip_headers, warmup=warmup, seconds=seconds
        )
        _fill_batch(rows[telemetry_label(store, operations)], load, server)


def _measure_or_note(cfg: Config, store: str, server: Server, rows: dict[str, Row]) -> None:
    try:
        measure(cfg, store, server, rows)
    except Exception as exc:
        for label in _labels(store):
            if rows[label].value is None:
                rows[label].note = why(exc)


def run(cfg: Config) -> Section:
    """Measure every row against servers and a PostgreSQL started for this run.

    Both servers start together (their start-up, mostly imports and migrations, overlaps);
    the SQLite one is stopped before the PostgreSQL one is measured. A store that could
    not be measured keeps its rows, without figures, saying why.
    """
    section = Section("ingest", TITLE)
    first = EVENT_BATCHES[0]
    rows = {
        label: Row(label, reference=label in (event_label(POSTGRES, first),
                                              telemetry_label(POSTGRES),
                                              latency_label(POSTGRES, next(iter(PROBES)))))
        for store in (SQLITE, POSTGRES) for label in _labels(store)
    }  # fmt: skip
    with ExitStack() as stack:
        sqlite = Server.start(None)
        stack.callback(sqlite.stop)
        postgres = None
        if _postgres.available():
            database = stack.enter_context(_postgres.postgres())
            postgres = Server.start(database)
            stack.callback(postgres.stop)
        else:
            for label in _labels(POSTGRES):
                rows[label].note = "skipped: initdb/postgres not installed"
        _measure_or_note(cfg, SQLITE, sqlite, rows)
        sqlite.stop()
        if postgres is not None:
            _measure_or_note(cfg, POSTGRES, postgres, rows)
    stores = (SQLITE, POSTGRES)
    ratio = "ratio to PostgreSQL"
    events = Table(
        f"Events — POST /api/v1/events, {WRITERS} writers", "events/s",
        [rows[event_label(st, size)] for st in stores for size in EVENT_BATCHES],
        extra_columns=BATCH_COLUMNS, ratio_label=ratio,
    )  # fmt: skip
    telemetry = Table(
        f"Telemetry — POST /api/v1/ingest, gzip SDK batches, {WRITERS} writers",
        "points/s", [rows[telemetry_label(st, ops)] for st in stores for ops in TELEMETRY_ROWS],
        extra_columns=BATCH_COLUMNS, ratio_label=ratio,
    )  # fmt: skip
    latency = Table(
        f"API latency while {first}-event batches are ingested, {PROBE_RATE:g} requests/s",
        "p99 ms", [rows[latency_label(st, k)] for st in stores for k in PROBES],
        extra_columns=("p50 ms", "idle p50 ms"), ratio_label=ratio,
    )  # fmt: skip
    for t in (events, telemetry, latency):
        t.fill_ratios()
    section.tables = [events, telemetry, latency]
    section.targets = [_target(events), *(_points_target(rows, st) for st in stores)]
    section.notes.append(
        f"one machine of {os.cpu_count()} cores runs the server (one uvicorn process), "
        "PostgreSQL and the load generator together; CPU % is of one core"
    )
    return section


def _target(events: Table) -> Target:
    description = f"≥ {TARGET:,} events/s batched on PostgreSQL"
    figure = next((r.value for r in events.rows if r.reference), None)
    if figure is None:
        return Target(description, None, "not measured")
    detail = f"{figure:,.0f} events/s ({EVENT_BATCHES[0]} per batch; target {TARGET:,})"
    return Target(description, figure >= TARGET, detail)


def _points_target(rows: dict[str, Row], store: str) -> Target:
    """Issue 5's telemetry target on ``store``, judged on its largest batches."""
    description = f"≥ {POINTS_TARGET:,} telemetry points/s batched on {store}"
    figures = {
        ops * len(OUTCOMES) * BUCKETS: rows[telemetry_label(store, ops)].value
        for ops in sorted(TELEMETRY_ROWS, reverse=True)
    }
    figure = next(iter(figures.values()))
    if figure is None:
        return Target(description, None, "not measured")
    detail = "; ".join(f"{v:,.0f} with {n} per batch" for n, v in figures.items() if v is not None)
    return Target(description, figure >= POINTS_TARGET, f"{detail} (target {POINTS_TARGET:,})")


def main(argv: list[str] | None = None) -> int:
    """Print the section as text."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest")
    parser.add_argument("--quick", action="store_true", help="very few iterations (smoke run)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    section = run(Config.make(quick=args.quick))
    section.seconds = time.perf_counter() - start
    print(render_text([section], [f"python {sys.version.split()[0]}"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
