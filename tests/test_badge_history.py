"""Badge history (issue 12, item 5): a badge replaced mid-month, recorded when it happened or
the next morning with `--at`; the taps before and after are attributed to whoever held the card at
that moment, in the engine's roll call, the attendance and tap exports and the agent's own data. Real Store,
real Engine, real exports."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from hub.cli import main
from hub.engine.scenario import ScriptedFloor, badge_of, read_by, scenario_site
from hub.exports import ExportQuery, render_export, write_file
from hub.privacy import agent_data
from hub.roster.changes import BadgeError, badge_time, replace_badge
from hub.store import Store

NEW = "1E0000CAFE"


def _ms(iso: str | None) -> int | None:
    return None if iso is None else int(dt.datetime.fromisoformat(iso).timestamp() * 1000)


def _export(f: ScriptedFloor, kind: str, first: dt.date, last: dt.date) -> list[dict]:
    buf = io.BytesIO()
    write_file(render_export(kind, f.site, f.store, ExportQuery(first, last), "json", "en"), buf)
    return [json.loads(line) for line in buf.getvalue().decode().splitlines() if line.strip()]


@pytest.mark.parametrize("day", [dt.date(2026, 11, 16), dt.date(2027, 2, 25)])  # a Monday; a Thursday
@pytest.mark.parametrize("recorded", ["at once", "next morning"])
def test_a_badge_replaced_mid_month_attributes_each_tap_to_its_holder_then(tmp_path, day, recorded):
    site = scenario_site(tmp_path / "site", day=day)
    store = Store(tmp_path / "hub.db")
    f = ScriptedFloor(site, store, day=day, start="07:30")
    old = badge_of("10001")
    for d in (day, day + dt.timedelta(days=1)):
        f.roster([("10001", "day", "A01"), ("10002", "day", "A02")], day=d)
    f.tap("kiosk-k1", old, "08:15")  # day 1: the old card
    f.sit("seat-a01", old, "08:20", "16:00:30")
    f.play("17:30")
    handed_over = f.at("18:00")  # 10001 lost the card and got a new one at 18:00
    if recorded == "at once":
        replace_badge(site, store, "10001", NEW, actor="lead1", now_ms=handed_over, reason="lost")
    f.tap("kiosk-k1", NEW, "+1 08:14")  # day 2: the new card
    f.sit("seat-a01", NEW, "+1 08:21", "+1 16:00:30")
    found = f.tap("kiosk-k1", old, "+1 08:16")  # the lost card, found and tapped by someone
    f.play("+1 10:00")
    if recorded == "next morning":  # the lead records it late, dated when it happened
        replace_badge(site, store, "10001", NEW, actor="lead1", now_ms=f.at("+1 10:00"), reason="lost",
                      at_ms=badge_time(site, f"{day.isoformat()}T18:00", f.at("+1 10:00")))
    f.play("+1 17:30")

    first, last = day.replace(day=1), day + dt.timedelta(days=2)
    attendance = [(r["date"], r["employee_no"], r["rollcall"], _ms(r["first_arrival"]))
                  for r in _export(f, "attendance", first, last) if r["employee_no"] == "10001"]
    assert attendance == [(day.isoformat(), "10001", "on_time", f.at("08:15")),
                          ((day + dt.timedelta(days=1)).isoformat(), "10001", "on_time", f.at("+1 08:14"))]
    taps = [(r["uid"], r["employee_no"]) for r in _export(f, "taps", first, last) if r["device"] == "kiosk-k1"]
    seen_old, seen_new = read_by(site, "kiosk-k1", old), read_by(site, "kiosk-k1", NEW)  # as the reader reports
    assert taps == [(seen_old, "10001"), (seen_new, "10001"), (seen_old, None)]
    revoked = {(v["kind"], f.local(v["start"])) for v in f.violations("BADGE-UNKNOWN")}
    assert revoked == {("revoked_badge", "+1 08:16:00")}
    # the agent's own data (access right): their taps with both cards, not the found card's
    mine = agent_data(site, store, "10001", f.at("+1 17:30"))["data"]["badge_events"]
    assert sorted((e["device"], f.local(e["ts"])) for e in mine) == [
        ("kiosk-k1", "+1 08:14:00"), ("kiosk-k1", "08:15:00"), ("seat-a01", "+1 08:21:20"), ("seat-a01", "08:20:20")]
    assert found not in {e["event_id"] for e in mine}
    store.close()


def test_badge_times_are_validated_with_the_reason(tmp_path, capsys):
    day = dt.date(2026, 11, 16)
    site = scenario_site(tmp_path / "site", day=day)
    now = int(dt.datetime(2026, 11, 17, 10, tzinfo=site.tz).timestamp() * 1000)
    assert badge_time(site, "2026-11-16T18:00", now) == int(dt.datetime(2026, 11, 16, 18, tzinfo=site.tz).timestamp() * 1000)
    assert badge_time(site, "2026-11-16T10:00+00:00", now) == int(dt.datetime(2026, 11, 16, 18, tzinfo=site.tz).timestamp() * 1000)
    assert badge_time(site, None, now) == now
    for text, why in (("16/11/2026 18:00", "not a date and time"), ("2062-11-16T18:00", "more than 366 days")):
        with pytest.raises(BadgeError, match=why) as exc:
            badge_time(site, text, now)
        assert exc.value.field == "at"
    store = Store(tmp_path / "hub.db")
    replace_badge(site, store, "10001", NEW, actor="lead1", now_ms=now)
    with pytest.raises(BadgeError, match="later change") as exc:  # history is recorded in order
        replace_badge(site, store, "10001", "1E0000BEEF", actor="lead1", now_ms=now, at_ms=now - 3_600_000)
    assert exc.value.field == "at"
    store.close()
    args = ["badge", "revoke", NEW, "--reason", "lost", "--site", str(site.root), "--db", str(tmp_path / "hub.db")]
    assert main([*args, "--at", "yesterday"]) == 2  # an argument error
    assert "--at: expected an ISO time" in capsys.readouterr().err
