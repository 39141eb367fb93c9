"""The durable outbox: order, acknowledgement, overflow, and a sequence that never goes
backwards, even when the writing process is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from edge.exceptions import SpoolError
from edge.spool import Spool


def payload(seq: int) -> bytes:
    return f'{{"seq":{seq}}}'.encode()


def test_append_pending_ack_and_seq_survives_an_empty_reopen(tmp_path):
    s = Spool(tmp_path / "s.db", 100)
    seqs = [s.append(payload) for _ in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert [q for q, _ in s.pending(0, 3)] == [1, 2, 3]
    assert [q for q, _ in s.pending(3)] == [4, 5]
    assert s.ack([1, 2, 3, 4, 5, 5]) == 5 and len(s) == 0
    s.close()
    s = Spool(tmp_path / "s.db", 100)  # nothing pending, but numbering goes on
    assert s.last_seq == 5 and s.append(payload) == 6
    assert s.pending() == [(6, b'{"seq":6}')]
    s.close()


def test_a_failing_build_uses_no_seq(tmp_path):
    s = Spool(tmp_path / "s.db")

    def broken(seq: int) -> bytes:
        raise ValueError("uid too long")

    with pytest.raises(ValueError):
        s.append(broken)
    assert s.append(payload) == 1 and len(s) == 1
    s.close()


def test_overflow_keeps_the_newest_and_counts_the_dropped(tmp_path):
    s = Spool(tmp_path / "s.db", max_events=10, sync="normal")
    for _ in range(25):
        s.append(payload)
    assert len(s) == 10 and s.dropped == 15
    assert [q for q, _ in s.pending(0, 100)] == list(range(16, 26))
    s.close()
    s = Spool(tmp_path / "s.db", max_events=10)
    assert (len(s), s.dropped, s.last_seq) == (10, 15, 25)
    s.close()


def test_a_new_spool_starts_at_the_floor_an_old_one_keeps_its_numbers(tmp_path):
    s = Spool(tmp_path / "s.db", seq_floor=1_800_000_000_000)
    assert s.append(payload) == 1_800_000_000_001 and s.base_seq == 1_800_000_000_000
    s.close()
    s = Spool(tmp_path / "s.db", seq_floor=5)  # the floor only applies to a new spool
    assert s.append(payload) == 1_800_000_000_002
    s.close()


def test_an_unreadable_spool_is_kept_aside_and_replaced(tmp_path):
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not a database, it is a scratched SD card" * 100)
    s = Spool(path, seq_floor=1000)
    assert s.append(payload) == 1001
    s.close()
    kept = list(tmp_path.glob("s.db.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"this is not")


def test_an_unwritable_place_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SpoolError, match="cannot create the folder"):
        Spool(blocker / "sub" / "s.db")


WRITER = """
import sys, time
from edge.spool import Spool
s = Spool(sys.argv[1], 1_000_000)
print("ready", flush=True)
while True:
    seq = s.append(lambda q: b"x" * 200)
    if seq % 50 == 0:
        print(seq, flush=True)
"""


def test_sigkill_mid_write_never_loses_or_reuses_a_seq(tmp_path):
    path = tmp_path / "s.db"
    seen = 0
    for _round in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                                text=True, cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.getcwd()})
        assert proc.stdout.readline().strip() == "ready"
        reported = 0
        deadline = time.monotonic() + 30
        while reported < seen + 200 and time.monotonic() < deadline:
            line = proc.stdout.readline().strip()
            reported = int(line)  # a seq the writer saw committed
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
        conn = sqlite3.connect(path)
        rows = [r[0] for r in conn.execute("SELECT seq FROM outbox ORDER BY seq")]
        last = conn.execute("SELECT value FROM meta WHERE key='last_seq'").fetchone()[0]
        conn.close()
        assert rows == list(range(1, len(rows) + 1)), "a hole or a duplicate in the outbox"
        assert last == rows[-1] >= reported > seen
        seen = last
    s = Spool(path)
    assert s.append(payload) == seen + 1
    s.close()


def test_acknowledged_events_are_kept_for_a_while_and_can_be_sent_again(tmp_path):
    """A broker's acknowledgement is not its disk (edge.spool): acknowledged events stay
    keep_sent_s in `sent`, outside the outbox (not pending, not counted as spooled), and come back
    to the outbox when the link connects again; older ones, or all with keep_sent_s 0, are gone."""
    now = [1_000.0]
    s = Spool(tmp_path / "s.db", 100, keep_sent_s=60, clock=lambda: now[0])
    for _ in range(4):
        s.append(payload)
    assert s.ack([1, 2]) == 2 and len(s) == 2 and [q for q, _ in s.kept()] == [1, 2]
    now[0] += 61
    assert s.ack([3]) == 1 and [q for q, _ in s.kept()] == [3]  # 1 and 2 were kept long enough
    s.close()
    s = Spool(tmp_path / "s.db", 100, keep_sent_s=60, clock=lambda: now[0])  # kept across a restart
    assert s.requeue_sent() == 1 and len(s) == 2 and s.kept() == []
    assert [q for q, _ in s.pending()] == [3, 4]
    s.close()
    s = Spool(tmp_path / "t.db", 100, keep_sent_s=0)
    s.append(payload)
    assert s.ack([1]) == 1 and s.kept() == [] and s.requeue_sent() == 0 and len(s) == 0
    s.close()
