"""The config consumer: one daemon thread following the service's config document.

It holds the Server-Sent Events stream (``config_stream_path``) open and hands every
``config`` event to a callback. When the stream drops it reconnects with
``Last-Event-ID`` (the server then skips the document it already sent); when the stream
fails it polls the document (``config_path``) with ``If-None-Match`` instead, backing
off from ``reconnect_initial`` to ``poll_interval`` between attempts.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from reliant.agent._http import Endpoint
from reliant.agent.protocol import config_path, config_stream_path

if TYPE_CHECKING:
    import socket

#: Longest SSE line accepted (a document is one ``data:`` line).
MAX_LINE = 4 * 1024 * 1024
#: The server sends a keepalive every 15 s; three missed ones mean the stream is dead.
DEFAULT_READ_TIMEOUT = 45.0
DEFAULT_POLL_INTERVAL = 30.0
DEFAULT_RECONNECT_INITIAL = 1.0

Document = Mapping[str, Any]


class SSEParser:
    """Server-Sent Events, one line at a time (the WHATWG event-stream format)."""

    __slots__ = ("_data", "_event", "last_id")

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        #: The last ``id:`` seen; it persists across events, as the spec says.
        self.last_id: str | None = None

    def feed(self, raw: bytes) -> tuple[str, str] | None:
        """Take one line; return ``(event type, data)`` when it completes an event.

        Raises:
            UnicodeDecodeError: for a line that is not UTF-8.
        """
        line = raw.decode("utf-8")
        if line.endswith("\n"):
            line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = (self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_id = value
        return None


class ConfigWatcher:
    """Follows a service's config document; see the module docstring.

    Args:
        endpoint: the control plane.
        service: whose document to follow.
        on_document: called on the watcher's thread with each new document.
        timeout: seconds a poll may take.
        read_timeout: seconds of silence after which the stream is taken for dead.
        poll_interval: the longest wait between two attempts while the stream fails.
        reconnect_initial: the first wait after the stream drops.
        rng: jitter of the waits.
        log: called with a message when the stream's health changes.
    """

    def __init__(
        self,
        *,
        endpoint: Endpoint,
        service: str,
        on_document: Callable[[Document], None],
        timeout: float,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        reconnect_initial: float = DEFAULT_RECONNECT_INITIAL,
        rng: random.Random,
        log: Callable[[str], None],
    ) -> None:
        self.endpoint = endpoint
        self.service = service
        self.on_document = on_document
        self.timeout = timeout
        self.read_timeout = read_timeout
        self.poll_interval = poll_interval
        self.reconnect_initial = reconnect_initial
        self._rng = rng
        self._log = log
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        #: Version of the last document received (None before the first).
        self.version: int | None = None
        #: ``ETag`` of the last document received, for ``If-None-Match``.
        self.etag: str | None = None
        #: Whether the stream is open right now.
        self.streaming = False
        #: The last failure, or None while things work.
        self.last_error: str | None = None
        #: Documents received (stream and polls).
        self.documents = 0

    # -- thread -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the daemon thread."""
        self._thread = threading.Thread(
            target=self._run, name=f"reliant-config-{self.service}", daemon=True
        )
        self._thread.start()

    def close(self, timeout: float) -> None:
        """Stop the thread: interrupt the stream and wait up to ``timeout`` seconds."""
        self._stop.set()
        sock = self._sock
        if sock is not None:
            import socket

            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = self.reconnect_initial
        while not self._stop.is_set():
            if self.stream_once():
                delay = self.reconnect_initial
            elif not self._stop.is_set():
                self.poll_once()
            wait = delay * (0.5 + 0.5 * self._rng.random())
            delay = min(delay * 2.0, self.poll_interval)
            self._stop.wait(wait)

    # -- one attempt each -------------------------------------------------------------

    def stream_once(self) -> bool:
        """Hold the stream open until it ends; return whether it delivered anything.

        A stream that opens and closes without a line (a proxy cutting it, say) counts
        as failed, so the watcher polls and backs off rather than reconnecting at once.
        """
        import http.client

        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.version is not None:
            headers["Last-Event-ID"] = str(self.version)
        delivered = False
        conn = self.endpoint.connection(self.read_timeout)
        try:
            path = self.endpoint.prefix + config_stream_path(self.service)
            conn.request("GET", path, headers=self.endpoint.headers(headers))
            # Kept for close(): the connection forgets its socket once the response
            # owns it. Checked after storing, so a close() in between is not missed.
            self._sock = conn.sock
            if self._stop.is_set():
                return False
            response = conn.getresponse()
            if response.status != 200:
                response.read(65536)
                self._fail(f"config stream answered {response.status}")
                return False
            self.streaming = True
            self.last_error = None
            self._log(f"following the config stream of {self.service!r}")
            parser = SSEParser()
            while not self._stop.is_set():
                line = response.readline(MAX_LINE)
                if not line:
                    break  # the server closed the stream
                delivered = True
                if not line.endswith(b"\n"):
                    raise ValueError(f"an event line longer than {MAX_LINE} bytes")
                event = parser.feed(line)
                if event is not None and event[0] == "config":
                    self._accept(json.loads(event[1]), None)
            if not self._stop.is_set():
                self._fail("config stream closed by the server")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if not self._stop.is_set():
                self._fail(f"config stream failed: {type(exc).__name__}: {exc}")
        except Exception as exc:  # never let a bug kill the thread silently
            self._fail(f"config stream error: {type(exc).__name__}: {exc}")
        finally:
            self.streaming = False
            self._sock = None
            conn.close()
        return delivered

    def poll_once(self) -> bool:
        """Fetch the document unless unchanged; return whether a new one was applied."""
        headers = {"Accept": "application/json"}
        if self.etag is not None:
            headers["If-None-Match"] = self.etag
        try:
            response = self.endpoint.request(
                "GET", config_path(self.service), headers=headers, timeout=self.timeout
            )
            if response.status == 304:
                return False
            if response.status != 200:
                self._fail(f"config poll answered {response.status}")
                return False
            return self._accept(json.loads(response.body), response.headers.get("etag"))
        except (OSError, ValueError) as exc:
            self._fail(f"config poll failed: {type(exc).__name__}: {exc}")
        except Exception as exc:  # never let a bug kill the thread silently
            self._fail(f"config poll error: {type(exc).__name__}: {exc}")
        return False

    def _accept(self, document: Any, etag: str | None) -> bool:
        """Apply ``document`` if its version is new; return whether it was."""
        if not isinstance(document, Mapping):
            raise ValueError(f"a config document must be a JSON object, got {document!r:.80}")
        version = document.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValueError(f"a config document needs an integer version, got {version!r}")
        if version == self.version:
            return False
        self.on_document(document)
        self.version = version
        self.etag = etag or f'"{version}"'
        self.documents += 1
        return True

    def _fail(self, message: str) -> None:
        if message != self.last_error:
            self._log(message)
        self.last_error = message
