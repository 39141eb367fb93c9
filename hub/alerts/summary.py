"""The daily summary per team to its lead (issue 15, item 4): at `[daily_summary] at` (site-local)
each team's roll call of the day (on time, late, absent, on leave, with the names of the late
and the absent), its violations by rule, and the excuses still open (violations that cost points
and that nobody has excused yet: what a lead decides on before the day closes) next to those
already excused.

Exactly once per team per day, across restarts: the summary is an outbox row keyed
("summary:<team>:<date>", channel, "summary"), so the outbox's unique key refuses a second one
and delivery is the outbox's (retries, rate limits, the stable id). A hub that is down at the
time sends the day's summary when it is back, the same day or up to `catch_up_days` later
(marked as sent late), once the engine has judged what the floor's devices kept for it: a lead
still needs yesterday's absentees when the hub was down at 16:30. A past day on which the team
had no duty judged (a rest day, or before the hub was installed) gets none.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

from edge.clock import Clock
from hub.alerts.alerts_toml import AlertsConfig
from hub.alerts.channels import Message
from hub.exports.labels import rule_name
from hub.site import Site
from hub.store import Store
from hub.store.alerts import AlertStore, NewAlert
from hub.store.reports import ReportReader

KIND = "summary"
SUMMARY_WORDS = {
    "zh_CN": {"title": "【日报】{team} 班组 {date}", "rollcall": "点名", "on_time": "准时", "late": "迟到",
              "absent": "旷工", "leave": "请假", "violations": "违规", "open": "待处理豁免", "excused": "已豁免",
              "none": "无", "console": "打开班长台", "late_note": "补发：{at} 时中枢未运行"},
    "en": {"title": "[Daily] team {team} {date}", "rollcall": "Roll call", "on_time": "on time", "late": "late",
           "absent": "absent", "leave": "on leave", "violations": "Violations", "open": "Open excuses",
           "excused": "excused", "none": "none", "console": "Open the console",
           "late_note": "Sent late: the hub was not running at {at}"},
}
LATE = ("roll_call_late", "late")


def summary_id(team: str, date: str) -> str:
    return f"summary:{team}:{date}"


def team_day(site: Site, store: Store, team: str, date: str) -> dict[str, Any]:
    """What the summary says, from the engine's attendance and violations of that date."""
    points = {r: s.points for r, s in site.rules.rules.items()}
    with ReportReader(store) as reader:
        attendance = list(reader.attendance(date, date, team=team))
        violations = list(reader.violations(date, date, team=team))
    roll: Counter = Counter()
    late, absent = [], []
    for a in attendance:
        kind = "late" if a["rollcall"] in LATE else a["rollcall"]
        roll[kind] += 1
        who = f"{a.get('name') or a['employee_no']} ({a['employee_no']})"
        if kind == "late":
            late.append(who)
        elif kind == "absent":
            absent.append(who)
    counted = [v for v in violations if not v.get("excused")]
    return {
        "id": summary_id(team, date), "kind": "daily_summary", "team": team, "date": date,
        "rollcall": {k: roll.get(k, 0) for k in ("on_time", "late", "absent", "leave")},
        "late": late, "absent": absent,
        "violations": dict(sorted(Counter(v["rule"] for v in counted).items())),
        "open_excuses": sum(1 for v in counted if points.get(v["rule"], 1) > 0),
        "excused": sum(1 for v in violations if v.get("excused")),
    }


def compose_summary(lang: str, base_url: str | None, s: dict[str, Any]) -> Message:
    w = SUMMARY_WORDS[lang]
    title = w["title"].format(team=s["team"], date=s["date"])
    if s.get("sent_late"):
        title += " · " + w["late_note"].format(at=s["sent_late"])
    r = s["rollcall"]
    roll = " · ".join(f"{w[k]} {r[k]}" for k in ("on_time", "late", "absent", "leave"))
    vios = "; ".join(f"{rule_name(rule, 'zh' if lang == 'zh_CN' else 'en')} {n}" for rule, n in s["violations"].items()) or w["none"]
    fields = [(w["rollcall"], roll)]
    if s["late"]:
        fields.append((w["late"], ", ".join(s["late"])))
    if s["absent"]:
        fields.append((w["absent"], ", ".join(s["absent"])))
    fields += [(w["violations"], vios), (w["open"], f"{s['open_excuses']} ({w['excused']} {s['excused']})")]
    url = f"{base_url}/console" if base_url else None
    text = "\n".join([title, *(f"{k}: {v}" for k, v in fields)] + ([f"{w['console']}: {url}"] if url else []))
    md = "\n".join([f"### {title}", *(f"- **{k}**: {v}" for k, v in fields)] + ([f"[{w['console']}]({url})"] if url else []))
    return Message(title, text, md)


class DailySummaries:
    """Queues each team's summary once its time has come (called before each sender pass): today's
    at `at`, and the last `catch_up_days` days' that are missing, once `ready()` says the engine
    has judged the log."""

    def __init__(self, site: Site, cfg: AlertsConfig, store: Store, outbox: AlertStore, clock: Clock,
                 ready: Callable[[], bool] = lambda: True) -> None:
        self.site, self.cfg, self.store, self.outbox, self.clock, self.ready = site, cfg, store, outbox, clock, ready
        self.teams = sorted({a.team for a in site.agents if a.role == "agent" and a.team})
        self._done: set[tuple[str, str]] = set()  # (team, date) known to be queued or not due: no query each pass

    def check(self) -> int:
        """Queue what is due; returns how many summaries were queued now."""
        ds = self.cfg.daily_summary
        if ds is None:
            return 0
        now = self.clock.now_ms()
        local = dt.datetime.fromtimestamp(now / 1000, self.site.tz)
        today = local.date()
        dates = [today - dt.timedelta(days=k) for k in range(ds.catch_up_days, 0, -1)]
        if local.strftime("%H:%M") >= ds.at:
            dates.append(today)
        live = self.cfg.live_channels()
        todo = [(team, d.isoformat(), d < today) for d in dates for team in self.teams
                if ds.channel_for(team) in live and (team, d.isoformat()) not in self._done]
        if not todo or not self.ready():  # judged first: a summary read mid catch-up would be wrong
            return 0
        new = []
        for team, date, past in todo:
            channel = ds.channel_for(team)
            self._done.add((team, date))
            if any(r.kind == KIND and r.channel == channel for r in self.outbox.for_violation(summary_id(team, date))):
                continue
            summary = team_day(self.site, self.store, team, date)
            if past:
                if not any(summary["rollcall"].values()):
                    continue  # no duty of the team judged that day
                summary["sent_late"] = ds.at
            new.append(NewAlert(summary_id(team, date), channel, KIND, now, now, False, False, summary))
        return self.outbox.enqueue(new)
