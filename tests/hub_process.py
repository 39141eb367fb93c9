"""`python -m hub.cli hub` as a child process, for the tests that SIGKILL hubs (test_hub_kill,
test_failover): a free web port, its stderr appended to one log file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from hub.store import Store
from hub.store.derived import DERIVED_TABLES, DerivedStore

ROOT = Path(__file__).resolve().parent.parent


class HubProcess:
    def __init__(self, site_dir: Path, db: Path | str, broker, log: Path, *options: str,
                 checkpoint_every: float = 0.2) -> None:
        with log.open("a") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "hub", "--site", str(site_dir), "--db", str(db),
                 "--broker", broker.address, "--web", "127.0.0.1:0", "--checkpoint-every", str(checkpoint_every),
                 *options],
                stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        self.url: str | None = None

    def read_url(self) -> str:
        """The web address the hub prints once ingest and the web app run."""
        for line in self.proc.stdout:
            if line.startswith("web: "):
                self.url = line.split()[1].rstrip("/")
                return self.url
        raise AssertionError(f"hub exited with {self.proc.wait()} before serving")

    def health(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/api/health", timeout=5) as r:
            return json.loads(r.read())

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc.stdout.close()


def derived_tables(db: Path | str) -> dict[str, list[dict]]:
    """Every derived table of a hub's database, row by row (to compare with a rebuild)."""
    store = Store(db)
    try:
        derived = DerivedStore(store)
        return {t: derived.snapshot(t) for t in DERIVED_TABLES}
    finally:
        store.close()
