"""A PostgreSQL for a benchmark run: initdb in a temp dir, a free loopback port, stop by PID.

As root, the server runs as the ``postgres`` user through ``runuser``. Unlike the test
suite's cluster, this one keeps PostgreSQL's durable defaults (``fsync``,
``synchronous_commit`` and ``full_page_writes`` on): an acknowledged batch is on disk,
as in production.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: How long the server may take to accept connections after it was started.
READY_TIMEOUT = 30.0
DATABASE = "reliant_bench"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bin(name: str) -> str | None:
    """The path of a PostgreSQL program: on PATH, or in Debian's versioned directory."""
    return shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )


def available() -> bool:
    """Whether ``initdb`` and ``postgres`` can be found."""
    return pg_bin("initdb") is not None and pg_bin("postgres") is not None


def _cmd(*argv: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)


def _ready(port: int, user: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(
            host="127.0.0.1", port=port, user=user, dbname="postgres", connect_timeout=1
        ) as conn:
            conn.execute("SELECT 1")
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def postgres() -> Iterator[tuple[str, int]]:
    """A fresh cluster with an empty database; yields its SQLAlchemy URL and PID.

    The PID is that of the process started (``runuser`` as root): the server and its
    backends are its descendants.
    """
    import psycopg

    initdb, server = pg_bin("initdb"), pg_bin("postgres")
    if initdb is None or server is None:
        raise RuntimeError("initdb/postgres not found: install PostgreSQL")
    port = free_port()
    root = Path(tempfile.mkdtemp(prefix="reliant-bench-pg-"))
    data = root / "data"
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    process: subprocess.Popen[bytes] | None = None
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
        subprocess.run(
            _cmd(initdb, "-D", str(data), "-A", "trust", "-U", user, "-E", "UTF8", "--no-sync"),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        process = subprocess.Popen(
            _cmd(server, "-D", str(data), "-p", str(port),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={root}",
                 "-c", "max_connections=100"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT
        while not _ready(port, user):
            if process.poll() is not None:
                raise RuntimeError(f"postgres exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("postgres did not accept connections in time")
            time.sleep(0.05)  # readiness probe interval
        with psycopg.connect(
            host="127.0.0.1", port=port, user=user, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
        yield f"postgresql+psycopg://{user}@127.0.0.1:{port}/{DATABASE}", process.pid
    finally:
        if process is not None and process.poll() is None:
            _stop(process, data)
        shutil.rmtree(root, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes], data: Path) -> None:
    """Fast shutdown (SIGINT) of the postmaster, by the PID it wrote; then of ``process``.

    Signalling ``runuser`` instead would make it wait two seconds and SIGKILL its child.
    """
    try:
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGINT)
        process.wait(timeout=20)
        return
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        pass
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
