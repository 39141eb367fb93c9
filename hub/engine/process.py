"""The rule engine in a process of its own, so it does not hold the GIL against ingest.

The engine is already a consumer of the ordered input log (hub.store) that keeps its own position
and checkpoints; here it runs that loop in a child process on its own connection to the same
database (WAL: ingest's commits are visible to it, its reads never block ingest). What it decides
comes back over a pipe and the hub dispatches it as before (commands to devices, updates to the
live bus the kiosk page and the floor map listen to). The web app's reads and lead actions are
calls over the same pipe, answered by a thread in the child under the engine's lock.

The child ends when the hub's end of the pipe closes: a SIGKILLed hub takes its engine with it
(the next hub's engine resumes from the checkpoint, as before).

The engine judges while this hub holds the site's engine lease, and stands by while another hub
does (hub.engine.judging).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import multiprocessing as mp
import os
import threading
import time
from typing import Any

from hub.engine.core import Outcome, progress_of
from hub.engine.judging import judge_while_leased
from hub.errors import EngineError, HubError
from hub.site import Site
from hub.store import Store

log = logging.getLogger(__name__)

RESTART_MIN_S, RESTART_MAX_S = 1.0, 30.0  # waits before starting an engine process that ended again
CALLS = ("seats", "equipment", "device_states", "refresh", "checkpoint")  # what the web app and hub ask for


def _child(site_root: str, db_path: str, checkpoint_every_s: float | None, tick_s: float, log_level: int,
           conn: Any, holder: str = "hub") -> None:
    from edge.clock import SystemClock  # noqa: PLC0415
    from hub.engine.core import Engine  # noqa: PLC0415
    from hub.privacy import install_log_masking  # noqa: PLC0415
    from hub.site import load_site  # noqa: PLC0415
    from hub.store.lease import EngineLease  # noqa: PLC0415

    # the hub's log level, and badge UIDs masked in this process's log as in the hub's (hub.privacy)
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    site = load_site(site_root)
    install_log_masking(site)
    store = Store(db_path)
    send_lock = threading.Lock()
    wake, stop = threading.Event(), threading.Event()
    engine: Any = None  # built once this hub holds the engine lease

    def send(msg: tuple) -> None:
        with send_lock:
            conn.send(msg)

    def report() -> None:
        send(("progress", engine.seq, engine.watermark, dict(engine.stats)))

    def emit(outcome: Outcome) -> None:
        if outcome.commands or outcome.updates:
            send(("outcome", outcome))
        report()

    def serve() -> None:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the hub is gone: so is its engine (SQLite rolls back what was half written)
            if msg[0] == "wake":
                wake.set()
            elif msg[0] == "stop":
                stop.set()
                wake.set()
            elif msg[0] == "call":
                _, cid, name = msg
                if engine is None:
                    send(("reply", cid, None, "StandbyError: another hub runs this site's engine"))
                    continue
                try:
                    send(("reply", cid, getattr(engine, name)(), None))
                except Exception as e:  # the caller gets it as an EngineError with the reason
                    log.exception("engine: %s failed", name)
                    send(("reply", cid, None, f"{type(e).__name__}: {e}"))

    threading.Thread(target=serve, name="engine-calls", daemon=True).start()
    if store.url is not None:  # inputs another hub logs wake this engine too (hub.store.notify)
        from hub.store.notify import LogWatcher  # noqa: PLC0415

        LogWatcher(store.url, wake.set, holder).start()
    every = {} if checkpoint_every_s is None else {"checkpoint_every_s": checkpoint_every_s}
    frozen = False

    def build() -> Engine:
        nonlocal engine, frozen
        engine = Engine(site, store, SystemClock(), warm=False, **every)
        if not frozen:  # this process is the engine alone: the site, plans and roster are never
            gc.freeze()  # garbage, and a catch-up allocates facts by the hundred thousand;
            gc.set_threshold(50_000, 20, 20)  # collecting less often saves ~15 %
            frozen = True
        send(("loaded",))
        return engine

    def standby() -> None:
        nonlocal engine
        engine = None
        send(("standby",))

    lease = EngineLease(store, site.id, holder)
    engine = judge_while_leased(lease, build, stop=stop, wake=wake, tick_s=tick_s, emit=emit, on_standby=standby,
                                on_judging=lambda _engine: (send(("ready",)), report()), site=site.id, name=holder)
    if engine is not None:
        engine.consume(emit=emit)  # what ingest committed while stopping
        engine.checkpoint()
    lease.release()
    send(("stopped",))


class EngineProcess:
    """The hub's handle on the engine in its child process: the Engine methods the hub and the web
    app use (progress, seats, equipment, device_states, refresh, checkpoint)."""

    def __init__(self, site: Site, store: Store, *, checkpoint_every_s: float | None = None,
                 tick_s: float = 1.0, holder: str = "hub") -> None:
        if store.location is None:
            raise HubError("the engine process needs the hub database on a file or server")
        self.site, self.store = site, store
        self.checkpoint_every_s, self.tick_s = checkpoint_every_s, tick_s
        self.holder = holder  # this hub's name in the engine lease (hub.store.lease)
        self.standby = False  # another hub holds the engine lease; this one takes over when it dies
        self.seq = 0
        self.watermark = 0
        self.stats: dict[str, int] = {}
        self._conn: Any = None
        self._proc: Any = None
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._replies: dict[int, tuple[threading.Event, list]] = {}
        self._stopped = threading.Event()
        self._stopping = threading.Event()  # stop() was called: an ended process is not restarted
        self._loaded = threading.Event()
        self.restarts = 0  # the times the process ended unexpectedly and was started again
        self._restart_wait = 0.0
        self._last_restart = float("-inf")

    def start(self, dispatch: Any, ready: threading.Event, wait: float = 300.0) -> None:
        """Start the process; return once its engine is built (site, plans, roster: seconds at
        2,000 seats), as a thread engine is before ingest starts, so the first taps stored are
        not kept waiting for it."""
        self._spawn(dispatch, ready)
        if not self._loaded.wait(wait):
            log.warning("hub: the engine process is not loaded after %.0f s; starting ingest anyway", wait)

    def _spawn(self, dispatch: Any, ready: threading.Event) -> None:
        ctx = mp.get_context("spawn")
        mine, theirs = ctx.Pipe()
        self._proc = ctx.Process(target=_child, name="hub-engine", daemon=True,
                                 args=(str(self.site.root), self.store.location, self.checkpoint_every_s,
                                       self.tick_s, logging.getLogger().getEffectiveLevel(), theirs, self.holder))
        self._proc.start()
        theirs.close()
        self._conn = mine
        threading.Thread(target=self._read, args=(mine, dispatch, ready), name="hub-engine-pipe", daemon=True).start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _read(self, conn: Any, dispatch: Any, ready: threading.Event) -> None:
        stopped = False
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            kind = msg[0]
            if kind == "outcome":
                try:
                    dispatch(msg[1])
                except Exception:
                    log.exception("hub: dispatching the engine's outcome failed")
            elif kind == "progress":
                self.seq, self.watermark, self.stats = msg[1], msg[2], msg[3]
            elif kind == "standby":
                self.standby = True
                ready.clear()  # not judging: alerts wait (a lease lost when its connection dropped)
                self._loaded.set()  # the hub starts; its engine waits for the lease
            elif kind == "loaded":
                self.standby = False
                self._loaded.set()
            elif kind == "ready":
                ready.set()
            elif kind == "reply":
                waiter = self._replies.pop(msg[1], None)
                if waiter is not None:
                    waiter[1].extend(msg[2:])
                    waiter[0].set()
            elif kind == "stopped":
                stopped = True
                break
        for event, _ in list(self._replies.values()):
            event.set()
        if not stopped and not self._stopping.is_set():
            with contextlib.suppress(OSError):
                conn.close()  # the next process gets a pipe of its own
            self._restart(dispatch, ready)
            return
        self._stopped.set()
        self._loaded.set()
        ready.set()

    def _restart(self, dispatch: Any, ready: threading.Event) -> None:
        """The engine process ended without being told to (a crash the engine's own guards did not
        catch): the hub goes on without verdicts until it runs again, so start it again, sooner
        the first time and at most every RESTART_MAX_S after. It resumes from the checkpoint."""
        proc = self._proc
        proc.join(5)
        ready.clear()  # not judging: alerts wait
        self.standby = True
        now = time.monotonic()
        self._restart_wait = RESTART_MIN_S if now - self._last_restart > 10 * RESTART_MAX_S \
            else min(self._restart_wait * 2, RESTART_MAX_S)
        self._last_restart = now
        log.error("hub: the engine process ended unexpectedly (exit code %s); starting it again in %.0f s",
                  proc.exitcode, self._restart_wait)
        if self._stopping.wait(self._restart_wait):
            self._stopped.set()
            return
        self.restarts += 1
        self._spawn(dispatch, ready)

    def _send(self, msg: tuple) -> None:
        if self._conn is None:
            raise EngineError("the engine process is not running")
        with self._send_lock:
            self._conn.send(msg)

    def wake(self) -> None:
        """Inputs were logged: judge them now rather than at the next tick."""
        with contextlib.suppress(OSError, ValueError, EngineError):
            self._send(("wake",))

    def _call(self, name: str, timeout: float = 60.0) -> Any:
        cid = next(self._ids)
        waiter: tuple[threading.Event, list] = (threading.Event(), [])
        self._replies[cid] = waiter
        try:
            self._send(("call", cid, name))
        except (OSError, ValueError) as e:
            self._replies.pop(cid, None)
            raise EngineError(f"the engine process is gone ({e})") from e
        if not waiter[0].wait(timeout) or not waiter[1]:
            self._replies.pop(cid, None)
            raise EngineError(f"the engine process did not answer {name} within {timeout:.0f} s")
        result, error = waiter[1]
        if error is not None:
            raise EngineError(f"the engine failed on {name}: {error}")
        return result

    def progress(self) -> dict[str, Any]:
        """How far the engine has judged the log (/api/health), from its last report."""
        return progress_of(self.seq, self.watermark, *self.store.input_position())

    def seats(self) -> list[dict[str, Any]]:
        return self._call("seats")

    def equipment(self) -> list[dict[str, Any]]:
        return self._call("equipment")

    def device_states(self) -> dict[str, dict[str, Any]]:
        return self._call("device_states")

    def refresh(self) -> Outcome:
        return self._call("refresh")

    def checkpoint(self) -> None:
        self._call("checkpoint")

    def stop(self, timeout: float = 30.0) -> None:
        """Judge what is logged, checkpoint, end the process."""
        if self._proc is None:
            return
        self._stopping.set()
        with contextlib.suppress(OSError, ValueError, EngineError):
            self._send(("stop",))
        self._stopped.wait(timeout)
        self._proc.join(5)
        if self._proc.is_alive():
            log.warning("hub: the engine process did not stop in time; killed")
            self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = None
