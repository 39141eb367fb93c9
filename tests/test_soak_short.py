"""The short soak, in the normal suite: a day of shifts on a 100-seat floor (real edge agents in
two processes, a real mosquitto, the hub as its own process), at 1,200x, while the broker, the
hub and an agent process are SIGKILLed and restarted, devices are cut off and their clocks
skewed, and malformed and duplicated messages are injected. Then bench/checker.py, which shares
no code with the hub, accounts for every event and every violation.

The full-size run (2,000 seats, days of shifts) is `python bench/soak.py`; see bench/RESULTS.md.
"""

from __future__ import annotations

import json

import pytest

from bench import checker
from bench.soak import run_soak
from bench.soak_plan import SoakConfig

pytestmark = pytest.mark.slow


def test_a_day_under_chaos_loses_nothing_counts_nothing_twice_and_accuses_no_one_falsely(tmp_path, output_dir):
    cfg = SoakConfig(seats=100, zones=4, doors=4, kiosks=2, days=1, begin="07:00", end_after_midnight_min=30,
                     speed=1200, workers=2, seed=11, clock_skew_max_s=1800, heartbeat_s=3600, inventory_s=14_400,
                     broker_kills=1, hub_kills=1, worker_kills=1, cuts=6, skews=4, malformed=30, duplicates=40,
                     kill_gap_real_s=8, catch_up_real_s=15)
    result = run_soak(cfg, tmp_path / "soak", startup_s=6, say=lambda _msg: None)
    chk = result["check"]
    report = checker.summary(chk)
    print(report)
    (output_dir / "soak-short.json").write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str))

    # the chaos really happened
    faults = result["faults"]
    for kind in ("hub SIGKILLs", "broker SIGKILLs", "agent-process SIGKILLs", "devices cut off", "device clocks skewed"):
        assert faults.get(kind, 0) >= 1, (kind, faults)
    assert faults.get("malformed messages", 0) >= 20 and faults.get("duplicated messages", 0) >= 20, faults
    assert chk["worker_starts"] >= cfg.workers + 1  # the killed agent process came back
    assert chk["truth_events"] > 2000 and chk["expected"] > 50, report  # a real day's worth to check

    # every event accounted for
    assert chk["lost"] == 0, report
    assert chk["duplicated"] == 0, report
    assert chk["unexpected"] == 0 and chk["mismatched"] == 0, report
    assert chk["malformed_not_quarantined"] == 0 and chk["quarantine_without_reason"] == 0, report
    # and nobody charged with what the ground truth does not show
    assert chk["false_accusations"] == 0 and chk["false_alerts"] == 0, report
    # and nothing the truth shows missed, but for what happened inside a device's data gap
    assert chk["missed"] == 0, report
    assert chk["matched"] > 0.8 * chk["expected"], report


def test_a_soaks_results_go_first_under_the_title_and_keep_what_was_measured_before(tmp_path):
    from bench.soak import add_results_section

    results = tmp_path / "RESULTS.md"
    results.write_text("# Soak and load results\n\nMachine: x.\n\n## Earlier run\n\nlost 0\n", encoding="utf-8")
    add_results_section(results, "## Soak, today\n\nlost 0, duplicated 0\n")
    add_results_section(results, "## Soak, later\n\nlost 0\n")
    text = results.read_text(encoding="utf-8")
    assert text.startswith("# Soak and load results\n\nMachine: x.\n\n## Soak, later\n")
    assert text.index("## Soak, later") < text.index("## Soak, today") < text.index("## Earlier run")
    assert text.endswith("## Earlier run\n\nlost 0\n")
    fresh = tmp_path / "new.md"
    add_results_section(fresh, "## Soak, first\n\nlost 0\n")
    assert fresh.read_text(encoding="utf-8") == "# Soak and load results\n\n## Soak, first\n\nlost 0\n"
