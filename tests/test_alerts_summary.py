"""The daily summary per team to its lead (issue 15, item 4), end to end: a day played through the
real Engine (ScriptedFloor), then the hub's alert sender with its real outbox posting to a real
webhook receiver on 127.0.0.1 (tests/alert_receiver.py). Nothing before the configured
site-local time; at it, one summary per team to the team's channel with its roll call, the names
of the late and the absent, its violations and its open excuses; a restarted hub sends nothing
again that day; the next day has its own."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from edge.clock import ManualClock
from hub.alerts.pipeline import Alerts
from hub.engine.scenario import ScriptedFloor
from hub.site import load_site
from hub.sitegen import generate_site
from hub.store import Store
from tests.alert_receiver import Receiver

SECRET = "summary-secret"
DAY = dt.date(2026, 11, 3)
AGENTS = [f"1000{i}" for i in range(1, 9)]
SEATS = ["A01", "A02", "A03", "A04", "B01", "B02", "B03", "B04"]


@pytest.fixture
def receiver():
    r = Receiver(SECRET)
    yield r
    r.close()


@pytest.fixture
def played(tmp_path):
    """T1 (10001-10004): 10002 late, 10003 absent. T2 (10005-10008): 10006 late for roll call,
    10007 a 15-minute break (limit 10)."""
    root = generate_site(tmp_path / "site", site="sum" + os.urandom(3).hex(), seats=8, zones=2, teams=2, doors=1, kiosks=1)
    rows = ["date,employee_no,shift,seat,meal_start"] + [f"{DAY},{e},day,{s},12:00" for e, s in zip(AGENTS, SEATS, strict=True)]
    (root / "roster.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    site = load_site(root)
    store = Store(tmp_path / "hub.db")
    floor = ScriptedFloor(site, store, day=DAY, start="07:30", tick_s=120, devices=sorted(site.devices))
    uid = {a.employee_no: a.badges[0] for a in site.agents}
    arrive = {"10002": "08:40", "10003": None, "10006": "08:25"}
    for emp, seat in zip(AGENTS, SEATS, strict=True):
        t = arrive.get(emp, "08:10")
        if t is None:
            continue
        floor.tap("kiosk-k1", uid[emp], t)
        h, m = (int(x) for x in t.split(":"))
        dev = f"seat-{seat.lower()}"
        floor.sit(dev, uid[emp], f"{h:02d}:{m + 2:02d}", "10:00" if emp == "10007" else "16:05")
        if emp == "10007":
            floor.occupy(dev, True, "10:15")
            floor.occupy(dev, False, "16:05")
    floor.play(until="16:20")
    yield root, tmp_path / "hub.db", store, floor
    store.close()


def write_alerts(root, receiver, channels: str = "", summary: str = "") -> None:
    """alerts.toml: the leads' webhook (plus `channels`), a daily summary at 16:30 to it (plus `summary`)."""
    (root / "alerts.toml").write_text(f"""
console_url = "http://hub.test:8080"
[channels.leads]
type = "webhook"
url = "{receiver.url}"
secret = "{SECRET}"
{channels}
[daily_summary]
at = "16:30"
channel = "leads"
{summary}
""", encoding="utf-8")


def _at(site, day: dt.date, hhmm: str) -> int:
    return int(dt.datetime.combine(day, dt.time.fromisoformat(hhmm), site.tz).timestamp() * 1000)


def test_one_summary_per_team_at_its_time_and_never_again_that_day(played, receiver):
    root, db, store, floor = played
    write_alerts(root, receiver, f"""
[channels.t2]
type = "webhook"
url = "{receiver.url}?team=T2"
secret = "{SECRET}"
""", 'teams = { T2 = "t2" }')
    site = load_site(root)
    clock = ManualClock(_at(site, DAY, "16:29"))
    alerts = Alerts(site, store, clock)
    assert alerts.sender.drain() == 0 and receiver.accepted == []

    clock.set(_at(site, DAY, "16:30"))
    assert alerts.sender.drain() == 2
    got = {a["violation"]["team"]: a for a in receiver.accepted}
    assert set(got) == {"T1", "T2"} and receiver.bad_signatures == 0
    t1, t2 = got["T1"]["violation"], got["T2"]["violation"]
    assert t1["rollcall"] == {"on_time": 2, "late": 1, "absent": 1, "leave": 0}
    assert t2["rollcall"] == {"on_time": 3, "late": 1, "absent": 0, "leave": 0}
    names = {a.employee_no: a.name for a in site.agents}
    assert t1["late"] == [f"{names['10002']} (10002)"] and t1["absent"] == [f"{names['10003']} (10003)"]
    assert t2["late"] == [f"{names['10006']} (10006)"] and t2["absent"] == []
    for team, s in (("T1", t1), ("T2", t2)):  # the engine's own violations of the day, by rule
        mine = [v for v in floor.violations() if v["team"] == team and v["date"] == DAY.isoformat() and not v["excused"]]
        assert s["violations"] == {r: sum(1 for v in mine if v["rule"] == r) for r in {v["rule"] for v in mine}}
        assert s["open_excuses"] == sum(1 for v in mine if site.rules.rule(v["rule"]).points > 0) > 0
    assert "AWAY-BREAK-LONG" in t2["violations"] and "ROLL-ABSENT" in t1["violations"]
    text = got["T1"]["text"]
    assert got["T1"]["title"] == "【日报】T1 班组 2026-11-03"
    assert "准时 2 · 迟到 1 · 旷工 1 · 请假 0" in text and names["10003"] in text and "http://hub.test:8080/console" in text
    assert got["T1"]["id"] == "summary:T1:2026-11-03:summary"

    # the hub restarts (same database) later that day: nothing is sent again
    alerts.sender.stop()
    again = Store(db)
    clock.set(_at(site, DAY, "17:45"))
    restarted = Alerts(site, again, clock)
    assert restarted.sender.drain() == 0 and len(receiver.arrivals) == 2
    # the next day has its own, once
    clock.set(_at(site, DAY + dt.timedelta(days=1), "16:31"))
    assert restarted.sender.drain() == 2 and restarted.sender.drain() == 0
    assert sorted(a["id"] for a in receiver.accepted[2:]) == ["summary:T1:2026-11-04:summary", "summary:T2:2026-11-04:summary"]
    assert receiver.duplicates() == {}
    again.close()


def test_a_bad_daily_summary_is_refused_naming_the_key(site_dir):
    from hub.site import SiteConfigError

    (site_dir / "alerts.toml").write_text("""
console_url = "http://hub.test"
[channels.leads]
type = "webhook"
url = "http://127.0.0.1:9/hook"
secret = "s"
[daily_summary]
at = "16:30"
channel = "nobody"
teams = { TX = "leads" }
""", encoding="utf-8")
    with pytest.raises(SiteConfigError) as exc:
        load_site(site_dir)
    found = {(e.key, e.reason) for e in exc.value.errors}
    assert ("daily_summary.channel", "no channel 'nobody' in [channels]") in found
    assert ("daily_summary.teams.TX", "no agent is in team 'TX'") in found
    (site_dir / "alerts.toml").write_text('[daily_summary]\nat = "25:00"\n', encoding="utf-8")
    with pytest.raises(SiteConfigError) as exc:
        load_site(site_dir)
    assert any(e.key.startswith("daily_summary.at") for e in exc.value.errors)


def test_a_day_missed_while_the_hub_was_down_is_sent_late_once_judged(played, receiver):
    """The hub was down at 16:30 and comes back the next morning: the day's summaries go out
    then, marked as late, but only once the engine has judged the backlog; days without a duty
    of the team get none, and the new day's waits for its own 16:30."""
    root, db, store, floor = played
    write_alerts(root, receiver)
    site = load_site(root)
    judged = [False]
    clock = ManualClock(_at(site, DAY + dt.timedelta(days=1), "09:00"))
    alerts = Alerts(site, store, clock, ready=lambda: judged[0])
    assert alerts.sender.drain() == 0 and receiver.accepted == []  # the engine is still catching up
    judged[0] = True
    assert alerts.sender.drain() == 2
    got = {a["violation"]["team"]: a for a in receiver.accepted}
    assert set(got) == {"T1", "T2"}
    assert got["T1"]["violation"]["date"] == DAY.isoformat()
    assert got["T1"]["violation"]["rollcall"] == {"on_time": 2, "late": 1, "absent": 1, "leave": 0}
    assert got["T1"]["title"] == "【日报】T1 班组 2026-11-03 · 补发：16:30 时中枢未运行"
    assert alerts.sender.drain() == 0  # once; the days before had no duty
    clock.set(_at(site, DAY + dt.timedelta(days=1), "16:30"))
    assert alerts.sender.drain() == 2  # today's, on time
    assert sorted(a["id"] for a in receiver.accepted[2:]) == ["summary:T1:2026-11-04:summary", "summary:T2:2026-11-04:summary"]
    assert all("sent_late" not in a["violation"] for a in receiver.accepted[2:])
    assert receiver.duplicates() == {}
    alerts.sender.stop()
