"""The month at a glance (issue 15, item 3) in headless Chromium, for a month of the engine's own
output (tests/analytics_month.py: a sitegen site played day by day through the real Engine):
every chart renders with data, hovering a mark shows its value, each chart's table holds the
same numbers as its marks, and those numbers are the ones /api/attendance and `floorwatch
assess` give for the same month. Downloads are a real SVG and a real PNG. The screenshot is
the README's (docs/img/analytics.png, copied from the test output)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from hub.store.month_aggregates import OVERUSE_RULES
from kiosk_ui import create_app
from kiosk_ui.server import WebServer
from tests.analytics_month import play_month
from tests.conftest import issue_test_token

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.ui_harness"]  # the session's one headless Chromium (fixture: browser)
WAIT_S = 25.0
ROOT = Path(__file__).resolve().parent.parent
CHARTS = ("punctuality", "overuse", "unattended", "utilisation", "coverage", "month_over")
LATE = ("roll_call_late", "late")


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("analytics")
    site, store = play_month(tmp, "an" + os.urandom(3).hex())
    store.close()
    app = create_app({"TESTING": True, "DATABASE": str(tmp / "hub.db"), "SITE_DIR": str(site.root)})
    server = WebServer(app).start()
    yield app, server, site, tmp
    server.stop()


def _client(app, role="admin", **user):
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_test_token(app, role, **user)}"
    return c


def _table(page, chart: str) -> list[list[str]]:
    return page.evaluate("""id => Array.from(document.querySelectorAll('#chart-' + id + ' table tbody tr'))
        .map(tr => Array.from(tr.cells).map(td => td.textContent.trim()))""", chart)


def _assess(site, db) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "hub.cli", "assess", "--month", "2026-11", "--format", "json",
                          "--site", str(site.root), "--db", str(db), "--out", "-"],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_every_chart_has_data_hover_values_and_matches_the_exports(browser, month, tmp_path, output_dir):
    app, server, site, tmp = month
    token = issue_test_token(app, "admin")
    ctx = browser.new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    page.set_default_timeout(WAIT_S * 1000)
    try:
        page.goto(f"{server.url}/analytics?month=2026-11&token={token}")
        assert page.locator("h1").inner_text().startswith("月度一览")
        for chart in CHARTS:
            fig = page.locator(f"#chart-{chart}")
            values = [float(v) for v in fig.locator("svg .mark").evaluate_all("ms => ms.map(m => m.dataset.value)")]
            assert values and max(values) > 0, chart  # rendered, with data
            mark = fig.locator("svg .mark").nth(values.index(max(values)))
            mark.hover()
            tip = page.locator("#fw-tip")
            assert tip.is_visible(), chart
            assert tip.inner_text() == mark.get_attribute("data-tip") and mark.get_attribute("data-value") in tip.inner_text()
            assert mark.locator("title").text_content() == tip.inner_text()  # the exported SVG keeps it too
            if chart == CHARTS[0]:  # the README's picture (docs/img/analytics.png): a tooltip, tables closed
                page.screenshot(path=str(output_dir / "analytics.png"), full_page=True)
            fig.locator("summary").click()
            assert fig.locator("table").is_visible() and fig.locator("table tbody tr").count() > 0, chart
        visible = re.sub(r"\s+", " ", page.locator("main").inner_text())
        assert not re.search(r"\b(None|null|undefined|NaN)\b", visible)

        # punctuality: the table, the marks and /api/attendance agree, per team per day
        punct = _table(page, "punctuality")
        rows = _client(app).get("/api/attendance?from=2026-11-01&to=2026-11-30&format=json").get_data(as_text=True)
        counts: Counter = Counter()
        for line in rows.splitlines():
            a = json.loads(line)
            kind = "late" if a["rollcall"] in LATE else a["rollcall"]
            counts[(a["team"], a["date"], kind)] += 1
        assert sum(counts.values()) == 15 * 8  # eight rostered agents, fifteen weekdays
        table = {(r[0], r[1], k): int(v) for r in punct for k, v in zip(("on_time", "late", "absent", "leave"), r[2:], strict=True)}
        assert {k: v for k, v in table.items() if v} == dict(counts)
        assert counts[next(k for k in counts if k[2] == "late")] and any(k[2] == "absent" for k in counts)
        marks = page.locator("#chart-punctuality svg .mark").evaluate_all(
            "ms => ms.map(m => [m.dataset.category, m.dataset.series, m.dataset.value])")
        assert sum(int(v) for _c, s, v in marks if s == "late") == sum(n for k, n in counts.items() if k[2] == "late")

        # break and meal overuse, and month over month: what `floorwatch assess` says for the month
        assessed = _assess(site, tmp / "hub.db")
        by_team: dict[str, Counter] = defaultdict(Counter)
        for a in assessed:
            for v in a["violations"]:
                if not v["excused"]:
                    by_team[a["team"]][v["rule"]] += 1
        over = {r[0]: [int(x) for x in r[1:1 + len(OVERUSE_RULES)]] for r in _table(page, "overuse")}
        assert over == {t: [by_team[t][rule] for rule in OVERUSE_RULES] for t in ("T1", "T2")}
        assert sum(sum(v) for v in over.values()) > 0
        mom = {(r[0], r[1]): r[3] for r in _table(page, "month_over")}
        for team in ("T1", "T2"):
            mine = [a for a in assessed if a["team"] == team]
            assert mom[(team, "违规")] == str(sum(a["violations_count"] - a["excused_count"] for a in mine))
            assert float(mom[(team, "扣分")]) == sum(a["points"] for a in mine)
            assert float(mom[(team, "平均得分")]) == round(sum(a["score"] for a in mine) / len(mine), 1)
            assert mom[(team, "迟到")] == str(sum(n for k, n in counts.items() if k[0] == team and k[2] == "late"))

        # each chart downloads as a real SVG and a real PNG
        fig = page.locator("#chart-coverage")
        with page.expect_download() as dl:
            fig.locator('[data-export="svg"]').click()
        svg = tmp_path / "c.svg"
        dl.value.save_as(svg)
        assert dl.value.suggested_filename == f"{site.id}_coverage_2026-11.svg"
        text = svg.read_text(encoding="utf-8")
        assert text.startswith("<?xml") and "<svg" in text and "data-tip" in text
        with page.expect_download() as dl:
            fig.locator('[data-export="png"]').click()
        png = tmp_path / "c.png"
        dl.value.save_as(png)
        assert dl.value.suggested_filename.endswith(".png") and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 2000
    finally:
        ctx.close()


def test_english_and_a_lead_sees_their_own_teams(month):
    app, _server, _site, _tmp = month
    en = _client(app).get("/analytics?month=2026-11&lang=en").get_data(as_text=True)
    assert "Month at a glance" in en and "Punctuality per team per day" in en
    lead = _client(app, "lead", teams=["T2"])
    data = lead.get("/analytics.json?month=2026-11").get_json()
    assert data["teams"] == ["T2"] and set(data["punctuality"]) == {"T2"} and set(data["month_over"]) == {"T2"}
    assert data["month"] == "2026-11" and data["previous"] == "2026-10" and len(data["days"]) == 15
    october = data["month_over"]["T2"][0]
    assert october["violations"] > 0  # October's week was played too
    assert _client(app, "facilities").get("/analytics?month=2026-11").status_code == 403
    empty = _client(app).get("/analytics?month=2026-01").get_data(as_text=True)  # a month without data
    shown = re.sub(r"<script.*?</script>", "", empty, flags=re.S)
    assert 'id="no-data"' in shown and not re.search(r"\b(None|null|undefined|NaN|nan)\b", shown)
    bad = _client(app).get("/analytics.json?month=2026-13")
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "month"
