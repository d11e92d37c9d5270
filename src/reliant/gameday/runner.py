"""Running a game day: start what it needs, drive its phases, judge them, stop everything.

The embedded control plane, the pager and the fleet are child processes recorded in
``pids.json`` of the run directory; they are stopped by PID when the game day ends, fails,
or is interrupted in any phase (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import httpx

from reliant.gameday.observe import NOTABLE, GameDayError, Observer, Plane, describe
from reliant.gameday.processes import Child, ProcessError, Supervisor, free_port
from reliant.gameday.scenario import Action, GameDay, Phase
from reliant.gameday.traffic import TrafficGenerator
from reliant.gameday.view import (
    FAILED,
    PASSED,
    RUNNING,
    SKIPPED,
    Board,
    PhaseLine,
    View,
    budget_line,
    clock,
    event_line,
)

#: Seconds between two looks at the expectations, and between two redraws.
POLL = 0.5
REDRAW = 1.0
#: Seconds the embedded control plane has to start serving.
SERVER_READY_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """How to run a game day.

    Attributes:
        exit: end when the phases are done (otherwise keep everything up until Ctrl-C).
        server: the URL of a running control plane to use instead of an embedded one.
        token: an admin token of ``server``.
        out: the run directory (logs, store, postmortem); a new temporary one by default.
        live: redraw the board in place; ``None`` decides by whether the output is a terminal.
    """

    exit: bool = False
    server: str | None = None
    token: str | None = None
    out: Path | None = None
    live: bool | None = None


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: stop everything."""


class PhaseFailed(Exception):
    """A phase could not do what it says, or what it expects did not happen in time."""


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with its ``{placeholder}`` values filled in; ``{n}`` is left for the traffic.

    Raises:
        GameDayError: a placeholder nobody knows.
    """
    out, rest = [], text
    while (start := rest.find("{")) >= 0:
        end = rest.find("}", start)
        if end < 0:
            break
        key = rest[start + 1 : end]
        if key == "n":
            value = "{n}"
        elif key in values:
            value = values[key]
        else:
            known = ", ".join("{" + k + "}" for k in sorted(values))
            raise GameDayError(f"unknown placeholder {{{key}}} in {text!r}; known: {known}, {{n}}")
        out += [rest[:start], value]
        rest = rest[end + 1 :]
    return "".join(out) + rest


def _fill_all(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return fill(value, values)
    if isinstance(value, dict):
        return {k: _fill_all(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_all(v, values) for v in value]
    return value


class GameDayRun:
    """One run of a game day.

    Args:
        game: the game day.
        source: the file it came from (``apply`` paths are relative to its directory).
        options: how to run it.
        out: where the view and the summary go.
    """

    def __init__(self, game: GameDay, source: Path, options: RunOptions, out: TextIO) -> None:
        self.game = game
        self.source = source
        self.options = options
        self.out = out
        live = options.live if options.live is not None else out.isatty()
        self.view = View(out, live=live)
        self.directory = options.out or Path(
            tempfile.mkdtemp(prefix=f"reliant-gameday-{game.name}-")
        )
        self.supervisor = Supervisor(self.directory)
        self.values: dict[str, str] = {"python": sys.executable}
        self.plane: Plane | None = None
        self.observer: Observer | None = None
        self.traffic: TrafficGenerator | None = None
        self.board = Board(
            title=game.name, ui="(starting)", phases=[PhaseLine(p.name) for p in game.phases]
        )
        self.postmortem_file: Path | None = None
        self._last_event = 0
        self._last_draw = 0.0
        self._began = time.time()
        self._token = ""
        self._last_error = ""
        #: The signal that asked the game day to stop, once one did.
        self._stopping = ""

    # --- the whole run ----------------------------------------------------------------------

    def run(self) -> int:
        """Run the game day; 0 when every phase passed, 1 when one failed, 130 interrupted."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._signals():
            try:
                try:
                    self._set_up()
                except (ProcessError, GameDayError, OSError) as exc:
                    self._tell(f"reliant gameday: could not set up {self.game.name}: {exc}")
                    return 1
                passed = self._phases()
                self._summary(passed)
                if not self.options.exit:
                    self._keep_up()
                return 0 if passed else 1
            except (Interrupted, KeyboardInterrupt):
                current = next((p.name for p in self.board.phases if p.state == RUNNING), None)
                where = f" in phase {current}" if current else ""
                self._tell(f"\nreliant gameday: interrupted{where}; stopping everything")
                return 130
            finally:
                self._tear_down()

    def _keep_up(self) -> None:
        """Leave everything running for people to look around, until Ctrl-C."""
        self._tell(
            f"\nThe control plane, the fleet and the traffic keep running: look around at "
            f"{self.values['control_plane']}/ (token above). Ctrl-C stops it all."
        )
        try:
            while not (gone := self.supervisor.exited()):
                self._check()
                time.sleep(REDRAW)
            names = ", ".join(c.name for c in gone)
            self._tell(f"reliant gameday: {names} exited on its own; stopping the rest")
        except (Interrupted, KeyboardInterrupt):
            self._tell("\nreliant gameday: stopping everything")

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        """Ctrl-C and SIGTERM interrupt the game day, also when its shell ignored SIGINT
        (a job started with ``&``)."""

        def stop(signum: int, frame: FrameType | None) -> None:
            if self._stopping:  # a second Ctrl-C: the clean-up is under way, let it finish
                return
            self._stopping = signal.Signals(signum).name
            # Raised where Python is: this breaks out of waits at once. Python drops an
            # exception raised in some places (its fork hooks, say), so the loops also
            # look at _stopping (_check).
            raise Interrupted(self._stopping)

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _check(self) -> None:
        """Raise :class:`Interrupted` when a signal asked to stop (and its own raise was lost)."""
        if self._stopping:
            raise Interrupted(self._stopping)

    def _tell(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # --- set-up ----------------------------------------------------------------------------

    def _set_up(self) -> None:
        self._tell(f"reliant game day {self.game.name}: run directory {self.directory}")
        url, token = self._control_plane()
        self.plane = Plane(url, token)
        self.values.update(control_plane=url, token=token)
        self._tell(f"web UI {url}/  (sign in with the token {token})")
        self.board.ui = f"{url}/   token {token}"
        pager_url = self._pager() if self.game.pager else None
        self._fleet()
        self._check()
        self._apply()
        self._check()
        self.observer = Observer(plane=self.plane, began=self._began, pager=pager_url)
        if self.game.traffic:
            spec = self.game.traffic.model_copy(
                update={"url": fill(self.game.traffic.url, self.values)}
            )
            if spec.json_body is not None:
                spec = spec.model_copy(update={"json_body": _fill_all(spec.json_body, self.values)})
            self.traffic = self.observer.traffic = TrafficGenerator(spec)
            self.traffic.start()

    def _control_plane(self) -> tuple[str, str]:
        if self.options.server:
            if not self.options.token:
                raise GameDayError("--server needs --token (an admin token of that server)")
            if self.game.control_plane.job_intervals:
                self._tell(
                    "note: control_plane.job_intervals apply to an embedded control plane only; "
                    "yours runs its jobs at its own intervals"
                )
            return self.options.server.rstrip("/"), self.options.token
        from cryptography.fernet import Fernet

        # A job name the server does not know stops it at start-up, and the error names the
        # jobs there are: wait_ready shows the end of its log.
        intervals = dict(self.game.control_plane.job_intervals)
        token = f"rlt_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
        (self.directory / "token").write_text(token + "\n", encoding="utf-8")
        os.chmod(self.directory / "token", 0o600)
        port = free_port()
        env = {
            "RELIANT_BOOTSTRAP_TOKEN": token,
            "RELIANT_SECRET_KEY": Fernet.generate_key().decode(),
            "RELIANT_JOB_INTERVALS": ",".join(f"{k}={v:g}" for k, v in intervals.items()),
        }
        argv = [sys.executable, "-m", "reliant", "server", "--port", str(port)]
        argv += ["--data-dir", str(self.directory / "store"), "--log-level", "warning"]
        child = self.supervisor.start("control-plane", argv, port=port, env=env)
        self._wait(child, "/readyz", SERVER_READY_TIMEOUT)
        self._token = token
        return child.url, token

    def _wait(self, child: Child, path: str, timeout: float) -> None:
        def ready() -> bool:
            try:
                return httpx.get(child.url + path, timeout=2.0, trust_env=False).is_success
            except httpx.HTTPError:
                return False

        self.supervisor.wait_ready(
            child, ready, timeout=timeout, interrupted=lambda: bool(self._stopping)
        )
        self._check()

    def _pager(self) -> str:
        assert self.game.pager is not None
        assert self.plane is not None
        pager = self.game.pager
        port = free_port()
        secret = secrets.token_urlsafe(24)
        values = {**self.values, "port": str(port), "secret": secret}
        child = self.supervisor.start("pager", [fill(a, values) for a in pager.command], port=port)
        self._wait(child, "/healthz", 30.0)
        body = {"type": "webhook", "url": child.url + pager.path, "secret": secret}
        self.plane.call("PUT", f"/api/v1/receivers/{pager.receiver}", json=body)
        self._tell(f"pager    {child.url}  (receiver {pager.receiver}; log {child.log})")
        return child.url

    def _fleet(self) -> None:
        assert self.plane is not None
        ports = {p.name: free_port() for p in self.game.fleet}
        self.values.update(
            {f"url:{name}": f"http://127.0.0.1:{port}" for name, port in ports.items()}
        )
        started = []
        for process in self.game.fleet:
            token = self.plane.call(
                "POST",
                "/api/v1/tokens",
                json={
                    "name": f"gameday-{process.name}-{secrets.token_hex(3)}",
                    "role": "ingest",
                    "service": process.name,
                },
            )["token"]
            values = {**self.values, "port": str(ports[process.name]), "token": token}
            argv = [fill(a, values) for a in process.command]
            env = {k: fill(v, values) for k, v in process.env.items()}
            started.append(
                (
                    process,
                    self.supervisor.start(process.name, argv, port=ports[process.name], env=env),
                )
            )
        for process, child in started:
            self._wait(child, process.ready, process.ready_timeout)
            self._tell(f"service  {process.name:<12} {child.url}  (log {child.log})")

    def _apply(self) -> None:
        assert self.plane is not None
        if not self.game.apply:
            return
        from reliant.spec.load import SpecError, load_paths

        paths = [self.source.parent / name for name in self.game.apply]
        try:
            documents = load_paths(paths)
        except SpecError as exc:
            raise GameDayError(
                "the apply files do not validate:\n" + "\n".join(exc.problems)
            ) from None
        body = {"documents": [d.to_dict() for d in documents], "prune": False}
        answer = self.plane.call("POST", "/api/v1/spec/apply", json=body)
        summary = ", ".join(f"{n} {what}" for what, n in answer["summary"].items() if n)
        self._tell(f"applied  {', '.join(self.game.apply)}: {summary or 'nothing to change'}")

    # --- the phases ------------------------------------------------------------------------

    def _phases(self) -> bool:
        for index, phase in enumerate(self.game.phases):
            self._check()
            line = self.board.phases[index]
            line.state, line.started = RUNNING, time.time()
            self.view.say(f"\n▶ {phase.name}" + (f": {phase.say}" if phase.say else ""), self.board)
            try:
                self._phase(phase, line.started)
            except (PhaseFailed, GameDayError) as exc:
                line.state, line.took, line.detail = FAILED, time.time() - line.started, str(exc)
                self.view.say(f"✘ {phase.name} failed: {exc}", self.board)
                for later in self.board.phases[index + 1 :]:
                    later.state = SKIPPED
                self._refresh(force=True)
                return False
            line.state, line.took = PASSED, time.time() - line.started
            self.view.say(f"✔ {phase.name} passed in {line.took:.1f} s", self.board)
            self._refresh(force=True)
        return True

    def _phase(self, phase: Phase, began: float) -> None:
        for action in phase.do:
            self._act(action)
        self._until(began + phase.hold)
        assert self.observer is not None
        deadline = time.time() + phase.timeout
        met: set[int] = set()
        seen: dict[int, str] = {}
        while True:
            for index, expectation in enumerate(phase.expect):
                if index in met:
                    continue
                try:
                    verdict = self.observer.judge(expectation, began)
                except GameDayError as exc:
                    seen[index] = str(exc)
                    continue
                seen[index] = verdict.seen
                if verdict.held:
                    met.add(index)
                    self._note(f"✔ {describe(expectation)} ({verdict.seen})")
            self.board.waiting = [
                f"{describe(e)}  (now: {seen.get(i, '-')})"
                for i, e in enumerate(phase.expect)
                if i not in met
            ]
            if len(met) == len(phase.expect):
                self.board.waiting = []
                break
            if time.time() > deadline:
                missing = [
                    f"{describe(e)} (last seen: {seen.get(i, 'nothing')})"
                    for i, e in enumerate(phase.expect)
                    if i not in met
                ]
                raise PhaseFailed(f"not within {phase.timeout:g} s: " + "; ".join(missing))
            self._refresh()
            self._check()
            time.sleep(POLL)
        for action in phase.then:
            self._act(action)

    def _until(self, when: float) -> None:
        while time.time() < when:
            self._check()
            self._refresh()
            time.sleep(min(POLL, max(0.0, when - time.time())))

    def _act(self, action: Action) -> None:
        assert self.plane is not None
        try:
            if action.say is not None:
                self._note(action.say)
            elif action.wait is not None:
                self._until(time.time() + action.wait)
            elif action.override is not None:
                o = action.override
                path = f"/api/v1/services/{o.service}/overrides/{o.section}/{o.target}"
                if o.remove:
                    with contextlib.suppress(GameDayError):  # already absent is fine
                        self.plane.call("DELETE", path)
                    self._note(f"override removed: {o.service} {o.section[:-1]} {o.target}")
                else:
                    self.plane.call("PUT", path, json=o.body())
                    self._note(f"override set: {o.service} {o.section[:-1]} {o.target} {o.body()}")
            elif action.http is not None:
                self._http(action)
            elif action.postmortem is not None:
                self._postmortem(action.postmortem.format)
        except GameDayError as exc:
            raise PhaseFailed(str(exc)) from None

    def _http(self, action: Action) -> None:
        assert action.http is not None
        spec = action.http
        url = fill(spec.url, self.values)
        try:
            response = httpx.request(
                spec.method,
                url,
                json=_fill_all(spec.json_body, self.values),
                timeout=10.0,
                trust_env=False,
            )
        except httpx.HTTPError as exc:
            raise PhaseFailed(f"{spec.method} {url}: {exc}") from None
        if response.status_code not in spec.expect_status:
            raise PhaseFailed(
                f"{spec.method} {url} answered {response.status_code}: {response.text[:200]}"
            )
        self._note(f"{spec.method} {url}: {response.status_code}")

    def _postmortem(self, fmt: str) -> None:
        assert self.plane is not None
        assert self.observer is not None
        incident = self.observer.incident
        if incident is None:
            raise PhaseFailed("no incident was declared, so there is no postmortem to write")
        try:
            found = self.plane.get(f"/api/v1/incidents/{incident['id']}/postmortem")
        except GameDayError:
            found = self.plane.call("POST", f"/api/v1/incidents/{incident['id']}/postmortem")
        response = self.plane.http.get(
            f"/api/v1/postmortems/{found['id']}/export", params={"format": fmt}
        )
        if not response.is_success:
            raise PhaseFailed(
                f"exporting postmortem #{found['id']}: {response.status_code} {response.text[:200]}"
            )
        suffix = "md" if fmt == "markdown" else "html"
        path = self.directory / f"postmortem-{incident['id']}.{suffix}"
        path.write_text(response.text, encoding="utf-8")
        self.postmortem_file = path
        self._note(f"postmortem #{found['id']} written to {path}")

    # --- the board ---------------------------------------------------------------------------

    def _note(self, text: str) -> None:
        self.board.happened.append(f"{time.strftime('%H:%M:%S')} {text}")

    def _refresh(self, *, force: bool = False) -> None:
        self._check()
        now = time.time()
        if not force and now - self._last_draw < REDRAW:
            return
        self._last_draw = now
        if self.traffic is not None:
            self.board.rates = self.traffic.rates()
        if self.plane is not None:
            try:
                self._look()
            except GameDayError as exc:  # the board misses a beat; the phases will say more
                if str(exc) != self._last_error:
                    self._note(f"could not refresh the board: {exc}")
                self._last_error = str(exc)
        self.view.draw(self.board)
        if gone := [c.name for c in self.supervisor.exited()]:
            raise GameDayError(
                f"processes exited on their own: {', '.join(gone)}; "
                f"see their logs in {self.directory}"
            )

    def _look(self) -> None:
        assert self.plane is not None
        events = self.plane.get("/api/v1/events", kind=list(NOTABLE), since=self._began, limit=100)[
            "items"
        ]
        for event in sorted(events, key=lambda e: e["id"]):
            if event["id"] <= self._last_event:
                continue
            self._last_event = event["id"]
            if event["kind"] == "circuit_breaker.state_changed":
                name = f"{event.get('service')}/{event['attributes'].get('name')}"
                self.board.breakers[name] = str(event["attributes"].get("to_state", "?")).upper()
            self.board.happened.append(event_line(event))
        if self.observer is not None and self.observer.pager is not None:
            self.board.pages = [
                f"{clock(p['received_at'])} {p['status']} {p['alertname']}"
                for p in self.observer.pages()
            ]
        for slo in self.plane.get("/api/v1/slos", limit=5)["items"]:
            if slo.get("status"):
                status = self.plane.get(f"/api/v1/slos/{slo['name']}/status")
                self.board.budgets[slo["name"]] = budget_line(status)

    # --- the end -----------------------------------------------------------------------------

    def _summary(self, passed: bool) -> None:
        self.view.close(self.board)
        took = time.time() - self._began
        done = sum(p.state == PASSED for p in self.board.phases)
        verdict = "every phase passed" if passed else "FAILED"
        self._tell(
            f"\ngame day {self.game.name}: {verdict} "
            f"({done}/{len(self.board.phases)} phases, {took:.0f} s)"
        )
        for phase in self.board.phases:
            took_text = f"{phase.took:6.1f} s" if phase.took is not None else "       "
            mark = {PASSED: "✔", FAILED: "✘", SKIPPED: "-"}.get(phase.state, "·")
            self._tell(f"  {mark} {phase.name:<22} {took_text}  {phase.detail}".rstrip())
        if self.postmortem_file:
            self._tell(f"postmortem: {self.postmortem_file}")
        if self.observer and self.observer.incident and self.plane:
            self._tell(f"incident:   {self.plane.url}/incidents/{self.observer.incident['id']}")
        self._tell(f"logs:       {self.directory}")

    def _tear_down(self) -> None:
        # A second Ctrl-C (or a SIGTERM) while stopping must not leave processes behind.
        previous = {
            sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            if self.traffic is not None:
                self.traffic.stop()
            if self.observer is not None:
                self.observer.close()
            if self.plane is not None:
                self.plane.close()
            count = len([c for c in self.supervisor.children if c.process.poll() is None])
            self.supervisor.stop_all()
            if count:
                self._tell(f"stopped {count} processes")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
