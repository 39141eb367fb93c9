"""How fast a SIGKILLed hub is back: checkpoint + tail against a replay without a checkpoint.

    python bench/restart.py                       # 2,000 seats, a checkpoint every 2 s
    python bench/restart.py --seats 500 --backlog 1500

Issue 11 asks that a hub SIGKILLed on a 2,000-seat floor serves /api/health with
engine.pending == 0 within 5 s of restart when the backlog is small. This bench builds the soak's
floor (bench/soak_plan.py, sitegen) rostered for yesterday, starts `floorwatch hub` as a
subprocess with a short `--checkpoint-every`, publishes the floor's last hours with true device
times (each device first says `online` with its clock, so its spool's times are believed, as an
edge agent reconnecting does), waits until everything is judged and a checkpoint is written,
SIGKILLs the hub, publishes a small backlog while it is down, starts it again and measures:

- seconds from process start to /api/health answering, and to engine.pending == 0 with every
  event stored;
- the checkpoint's size and how long writing one takes (the hub's own log line);
- the same restart with the checkpoint row deleted first (the engine replays what it keeps in
  memory, ~48 h of the log): the baseline, in the same run, on copies of the same database.

The hub runs on the wall clock (no simulated time), so the floor is placed in the past: the
plan's day is yesterday (site time) and only what lies within the engine's horizon is sent.

Heartbeats are thinned to one per device every 2 h (`--heartbeat-min`): a real floor's 30-s
heartbeats over 30 h would be ~7 M events to publish before the kill. That flatters the baseline,
not the checkpoint: a replay without a checkpoint reads the whole horizon (240x more heartbeats on
a real floor), while checkpoint + tail reads only the backlog, so the ratio here understates the
checkpoint's advantage. bench/replay.py measures the dense, realistic stream.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generated_floor import build_floor, send, wait_for  # noqa: E402
from hub.broker import MosquittoBroker  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- the hub under test (a subprocess)


class Hub:
    """`floorwatch hub` as the field runs it, started at `t0`; stderr goes to `log`."""

    def __init__(self, site_dir: Path, db: Path, broker: MosquittoBroker, log: Path, checkpoint_every: float) -> None:
        self.t0 = time.monotonic()
        with log.open("a") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "hub", "--site", str(site_dir), "--db", str(db), "--broker",
                 broker.address, "--web", "127.0.0.1:0", "--checkpoint-every", str(checkpoint_every)],
                stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.url: str | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("web: "):
                self.url = line.split()[1].rstrip("/")

    def health(self) -> dict | None:
        if self.url is None:
            return None
        try:
            with urllib.request.urlopen(f"{self.url}/api/health", timeout=30) as r:
                return json.loads(r.read())
        except OSError:
            return None

    def wait(self, cond, timeout: float, what: str) -> tuple[float, dict]:
        """Poll /api/health until cond(health); seconds since this process started."""

        def holds() -> dict | None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode} waiting for {what}")
            h = self.health()
            return h if h is not None and cond(h) else None

        _, h = wait_for(holds, timeout, what)
        return time.monotonic() - self.t0, h

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def _one(db: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        row = conn.execute(sql).fetchone()
        return row[0] if row and row[0] is not None else 0
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def restart(name: str, site_dir: Path, db: Path, broker: MosquittoBroker, log: Path, every: float,
            total: int) -> dict:
    """Start the hub on `db` with a backlog queued at the broker: time to health, to all judged."""
    before = len(log.read_text()) if log.exists() else 0
    resumed = re.compile(r"engine: (checkpoint loaded|no checkpoint), judged (\d+) inputs in ([\d.]+) s")
    hub = Hub(site_dir, db, broker, log, every)
    try:
        health_s, _ = hub.wait(lambda h: True, 300, "/api/health")
        ready_s, h = hub.wait(lambda h: h["events"] >= total and h["engine"]["pending"] == 0, 1800, "all judged")
        deadline = time.monotonic() + 60  # the engine logs its resume just after releasing its lock
        while (m := resumed.search(log.read_text()[before:])) is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        hub.kill()
    return {"name": name, "health_s": health_s, "ready_s": ready_s, "events": h["events"],
            "resume": m.group(1) if m else "?", "replayed": int(m.group(2)) if m else None,
            "resume_s": float(m.group(3)) if m else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seats", type=int, default=2000)
    ap.add_argument("--zones", type=int, default=20)
    ap.add_argument("--hours", type=float, default=30.0, help="the floor's recent past sent before the kill")
    ap.add_argument("--heartbeat-min", type=int, default=120, help="device heartbeat period, minutes (thinned: see above)")
    ap.add_argument("--backlog", type=int, default=1500, help="events published while the hub is down")
    ap.add_argument("--checkpoint-every", type=float, default=2.0, help="the hub's --checkpoint-every")
    ap.add_argument("--keep", action="store_true", help="keep the run folder")
    args = ap.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="fw-restart-"))
    broker = MosquittoBroker(root / "broker").start()
    log = root / "hub.log"
    try:
        t = time.monotonic()
        floor = build_floor(root, seats=args.seats, zones=args.zones, now_ms=int(time.time() * 1000),
                            hours=args.hours, heartbeat_s=args.heartbeat_min * 60,
                            rostered_today=None)  # a day's duties in the window at any hour it runs
        before, backlog = floor.events[:-args.backlog], floor.events[-args.backlog:]
        print(f"floor: {args.seats} seats, {len(floor.statuses)} devices, {len(before):,} events before the kill,"
              f" {len(backlog):,} while down (built in {time.monotonic() - t:.1f} s)", flush=True)
        db = root / "hub.db"

        # 1. a hub that holds a floor's state, and a checkpoint of it
        hub = Hub(floor.site_dir, db, broker, log, args.checkpoint_every)
        hub.wait(lambda h: True, 300, "/api/health")
        # subscribed: the broker keeps what follows for the hub's session
        wait_for(lambda: _one(db, "SELECT count(*) FROM input_log WHERE kind = 'mark' AND body LIKE '%caught_up%'"),
                 300, "the hub's session")
        t = time.monotonic()
        pub_s = send(broker, floor.statuses + before)
        _, h = hub.wait(lambda h: h["events"] >= len(before) and h["engine"]["pending"] == 0, 3600, "judging the floor")
        judged_s = time.monotonic() - t
        seq = h["engine"]["seq"]
        wait_for(lambda: _one(db, "SELECT seq FROM engine_checkpoint") >= seq, 300, "a checkpoint", poll=0.1)
        hub.kill()  # SIGKILL, a checkpoint at hand
        cp_bytes = _one(db, "SELECT length(state) FROM engine_checkpoint")
        cp_seq = _one(db, "SELECT seq FROM engine_checkpoint")
        last_seq = _one(db, "SELECT max(seq) FROM input_log")
        writes = [float(s) for s in re.findall(r"engine: checkpoint at input \d+ \(\d+ kB, ([\d.]+) s\)", log.read_text())]
        print(f"prepared: published in {pub_s:.1f} s, judged {len(before):,} events in {judged_s:.1f} s;"
              f" killed at input {last_seq:,}, checkpoint at input {cp_seq:,}", flush=True)

        # 2. the baseline's database: the same, without its checkpoint
        base_db = root / "base.db"
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{db}{suffix}").exists():
                shutil.copy(f"{db}{suffix}", f"{base_db}{suffix}")
        conn = sqlite3.connect(base_db)
        conn.execute("DELETE FROM engine_checkpoint")
        conn.commit()
        conn.close()

        # 3. the backlog while it is down, then the restart from the checkpoint
        total = len(before) + len(backlog)
        send(broker, backlog)
        with_cp = restart("checkpoint + tail", floor.site_dir, db, broker, log, args.checkpoint_every, total)
        # 4. the same backlog queued again for the hub's session; the restart without a checkpoint
        send(broker, backlog)
        without = restart("no checkpoint (baseline)", floor.site_dir, base_db, broker, log, args.checkpoint_every, total)
    finally:
        broker.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    print()
    print(f"| restart after SIGKILL, {args.seats:,} seats, backlog {len(backlog):,} events"
          f" | {with_cp['name']} | {without['name']} | ratio |")
    print("|---|---|---|---|")
    for key, label in (("health_s", "process start -> /api/health answers (s)"),
                       ("ready_s", "process start -> engine.pending == 0, all events stored (s)"),
                       ("resume_s", "engine resume (load + judge the tail) (s)"),
                       ("replayed", "inputs judged at resume")):
        a, b = with_cp[key], without[key]
        ratio = f"{a / b:.2f}x" if a is not None and b else "-"
        print(f"| {label} | {a:,.2f} | {b:,.2f} | {ratio} |" if isinstance(a, float) else f"| {label} | {a} | {b} | {ratio} |")
    print(f"| checkpoint size | {cp_bytes / 1024:,.0f} kB (zlib pickle) | - | |")
    if writes:
        print(f"| checkpoint write (state + rows of that flush), {len(writes)} writes | median {statistics.median(writes):.2f} s,"
              f" max {max(writes):.2f} s | - | |")
    if args.keep:
        print(f"run folder: {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
