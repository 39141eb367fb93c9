"""The outbox -> each channel's endpoint, one request at a time per channel, oldest first.

Why it behaves:
  - order: a channel's queue is first-in first-out; while its oldest row waits for a retry,
    nothing behind it overtakes it (a lead reads "resolved" after its alert, not before)
  - never lost: a failed request (endpoint down, HTTP error, the robot's own error code, a
    timeout of REQUEST_TIMEOUT_S) keeps its rows with one more attempt and the error, retried
    after BACKOFF_BASE_S * 2^(attempts-1), at most BACKOFF_MAX_S
  - rate limits: at most `per_minute` requests a minute per channel (DingTalk: 20 per robot);
    when one request is left in the minute and more rows wait, they go as one digest
  - quiet hours: rows held through a channel's quiet hours go as one digest when they end

The clock and the HTTP post are injected: unit tests drive the schedule with a manual clock and
a recording post; the hub uses the system clock and `http_post` (urllib, stdlib).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable

from edge.clock import Clock
from hub.alerts.alerts_toml import AlertsConfig, in_hours
from hub.alerts.channels import Message, Request, build_request, response_error
from hub.alerts.messages import compose, compose_digest
from hub.alerts.routes import severity
from hub.alerts.summary import KIND as SUMMARY
from hub.alerts.summary import compose_summary
from hub.privacy import mask_tree
from hub.site import Site
from hub.store.alerts import AlertStore, OutboxRow

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 5.0
BACKOFF_BASE_S = 5.0
BACKOFF_MAX_S = 300.0
DIGEST_MAX = 50  # rows in one digest message (robots cap a message's length)
WINDOW_MS = 60_000

Post = Callable[[Request, float], tuple[int, bytes]]


def http_post(req: Request, timeout: float = REQUEST_TIMEOUT_S) -> tuple[int, bytes]:
    """POST with urllib; an HTTP error status is an answer (status, body), not an exception."""
    r = urllib.request.Request(req.url, data=req.body, headers=req.headers, method="POST")
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:  # noqa: S310 - http(s) only, checked by config
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def message_id(row: OutboxRow) -> str:
    """An alert's stable id, the same on every attempt and after any restart: a receiver that
    dedupes on it sees each alert once although delivery around a crash is at least once."""
    return f"{row.violation}:{row.kind}"


def backoff_ms(attempts: int) -> int:
    """Delay before the next try after `attempts` failed ones (1, 2, ...)."""
    return int(min(BACKOFF_BASE_S * 2 ** max(0, attempts - 1), BACKOFF_MAX_S) * 1000)


class Sender:
    def __init__(self, site: Site, cfg: AlertsConfig, store: AlertStore, clock: Clock, post: Post = http_post,
                 *, wake: threading.Event | None = None, poll_s: float = 1.0,
                 before_pass: Callable[[], object] | None = None) -> None:
        self.site = site
        self.cfg = cfg
        self.store = store
        self.clock = clock
        self.post = post
        self.wake = wake or threading.Event()
        self.poll_s = poll_s
        self.before_pass = before_pass  # e.g. the daily summaries queueing what is due
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ one pass

    def run_once(self) -> int:
        """One request at most per channel that has something due; returns how many were made."""
        made = 0
        if self.before_pass is not None:
            self.before_pass()
        for name in self.store.queued_channels():
            if name in self.cfg.live_channels() and self._step(name):
                made += 1
        return made

    def drain(self, max_requests: int = 1000) -> int:
        """Pass after pass until nothing more is due now (tests, and the thread after a wake)."""
        total = 0
        while total < max_requests:
            made = self.run_once()
            if not made:
                return total
            total += made
        return total

    def _batch(self, name: str, now: int) -> list[OutboxRow]:
        channel = self.cfg.channels[name]
        rows = self.store.queue(name, DIGEST_MAX)
        if not rows or rows[0].due > now:
            return []  # empty, or the oldest waits for its retry: nothing overtakes it
        if channel.quiet and in_hours(channel.quiet, dt.datetime.fromtimestamp(now / 1000, self.site.tz)):
            return []
        left = channel.limit - self.store.requests_since(name, now - WINDOW_MS)
        if left <= 0:
            return []
        if rows[0].kind == SUMMARY:
            return rows[:1]  # a daily summary is a message of its own, never part of a digest
        ready: list[OutboxRow] = []
        for r in rows:
            if r.due > now or r.kind == SUMMARY:
                break
            ready.append(r)
        held = [r for r in ready if r.held]
        if rows[0].held and len(held) > 1:
            return held
        if left == 1 and len(ready) > 1:
            return ready
        return ready[:1]

    def _step(self, name: str) -> bool:
        now = self.clock.now_ms()
        batch = self._batch(name, now)
        if not batch:
            return False
        ids = self.store.mark_sending([r.id for r in batch], now)
        batch = [r for r in batch if r.id in ids]
        if not batch:
            return False
        channel = self.cfg.channels[name]
        try:
            msg, payload = self._message(batch, now)
            req = build_request(channel, msg, payload, now)
            status, body = self.post(req, REQUEST_TIMEOUT_S)
            error = response_error(channel.type, status, body)
        except Exception as exc:  # noqa: BLE001 - any failure of one request is that request's error
            error = f"{type(exc).__name__}: {exc}"
        if error is None:
            self.store.mark_sent(ids, now)
            return True
        attempts = max(r.attempts for r in batch) + 1
        self.store.mark_failed(ids, now, error, now + backoff_ms(attempts))
        log.warning("alerts: %s failed (attempt %d): %s", name, attempts, error)
        return True

    def _message(self, batch: list[OutboxRow], now: int) -> tuple[Message, dict]:
        lang, base = self.cfg.language, self.cfg.console_url
        items = [(r.kind, r.payload) for r in batch]
        alerts = [{"id": message_id(r), "alert": r.kind, "violation": mask_tree(r.payload)[0],
                   "severity": severity(self.cfg, r.payload.get("rule", ""))} for r in batch]
        if len(batch) == 1 and batch[0].kind == SUMMARY:
            return compose_summary(lang, base, batch[0].payload), {"site": self.site.id, **alerts[0]}
        if len(batch) == 1:
            return compose(self.site, lang, base, batch[0].kind, batch[0].payload, now), {"site": self.site.id, **alerts[0]}
        return compose_digest(self.site, lang, base, items, now), {"site": self.site.id, "digest": alerts}

    # ------------------------------------------------------------ the thread

    def start(self) -> Sender:
        self.store.recover()
        self._thread = threading.Thread(target=self._loop, name="hub-alerts", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(REQUEST_TIMEOUT_S * 2)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.drain()
            except Exception:
                log.exception("alerts: sender pass failed; retrying")
            self.wake.wait(self.poll_s)
            self.wake.clear()
