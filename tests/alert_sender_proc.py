"""The hub's alert sender alone, as a process a test can SIGKILL: `python -m tests.alert_sender_proc
SITE_DIR DB`. The same Sender the hub runs (real outbox, system clock, urllib), started the way
HubService starts it (rows left 'sending' go back to the queue first)."""

from __future__ import annotations

import sys
import time

from edge.clock import SystemClock
from hub.alerts.pipeline import Alerts
from hub.site import load_site
from hub.store import Store


def main(site_dir: str, db: str) -> None:
    alerts = Alerts.for_site(load_site(site_dir), Store(db), SystemClock(), poll_s=0.05)
    assert alerts is not None, "the site has no live alert channel"
    alerts.start()
    print("sending", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
