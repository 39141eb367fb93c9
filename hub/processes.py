"""Stopping a child process: ask it with a signal, give it time, kill it if it hangs.

The broker (SIGTERM, so mosquitto saves its persistence), the demo a test started and the
benches' simulated floors (SIGINT, a user's Ctrl-C) all stop their children this way."""

from __future__ import annotations

import signal
import subprocess


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> bool:
    """Send `sig` and wait up to `timeout_s` seconds, then kill. True if it ended by itself
    (or had already ended), False if it had to be killed."""
    if proc.poll() is not None:
        return True
    proc.send_signal(sig)
    try:
        proc.wait(timeout_s)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False
