"""The monthly assessment (考核): scores, grades, escalation and equipment compensation.

Per agent per month, from the engine's derived tables and the site's rules configuration:
- score = 100 minus the points (rules.toml `[rules.<id>] points`) of every violation that was
  not excused; never below 0. Grade by `[grades]`: 优秀 ≥ excellent, 良好 ≥ good, 合格 ≥ pass,
  else 不合格.
- escalation per rule within the month (`[escalation]`, or a rule's own `escalation`): the n-th
  counted violation of a rule costs fines[n-1] (the first also a warning when warning_first);
  past the last fine it is a dismissal review. Excused violations are not counted, and neither
  are violations of rules worth 0 points (live alerts such as AWAY-UNATTENDED) unless that rule
  configures its own ladder.
- equipment compensation: each loss incident (EQUIP-MISSING / EQUIP-LIABILITY, opened in the
  month, not recovered) charges its price (the incident's, else prices.csv) by the liable shares
  the engine recorded; with nobody liable it is split equally across the team on shift when the
  tag was last seen (RULES.md EQUIP-LIABILITY). A lead who excuses someone's EQUIP-LIABILITY
  violation for that tag waives that person's charge.
Every score keeps its violations (with evidence ids) and incidents, so it can be shown and
disputed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from hub.months import day_start_ms, month_end, parse_month
from hub.site import Escalation, Site
from hub.store import Store
from hub.store.reports import ReportReader

LOSS_RULES = ("EQUIP-MISSING", "EQUIP-LIABILITY")
NOT_ATTENDED = ("absent", "leave")


@dataclass
class ScoredViolation:
    id: str
    rule: str
    kind: str | None
    date: str
    start: int | None
    shift: str | None
    seat: str | None
    points: float  # deducted (0 when excused)
    excused: bool
    excuse_reason: str | None
    step: int | None  # n-th counted violation of this rule this month; None if not counted
    action: str | None  # "warning" | "fine" | "dismissal_review"
    fine: float
    evidence: list[str]


@dataclass
class RuleEscalation:
    rule: str
    count: int  # counted (not excused) violations this month
    step: int  # the highest step reached (= count)
    action: str  # action of that step
    fines: float  # sum of the fines of every step


@dataclass
class Charge:
    """One person's part of one equipment incident."""

    incident: str
    tag: str
    kind: str
    employee_no: str
    share: float  # fraction of the price
    amount: float  # CNY
    team_shared: bool


@dataclass
class AgentScore:
    month: str
    employee_no: str
    name: str
    team: str
    points: float
    score: float
    grade: str  # "excellent" | "good" | "pass" | "fail"
    violations: list[ScoredViolation] = field(default_factory=list)
    escalation: dict[str, RuleEscalation] = field(default_factory=dict)
    compensation: list[Charge] = field(default_factory=list)

    @property
    def violations_count(self) -> int:
        return len(self.violations)

    @property
    def excused_count(self) -> int:
        return sum(1 for v in self.violations if v.excused)

    @property
    def fines(self) -> float:
        return round(sum(e.fines for e in self.escalation.values()), 2)

    @property
    def compensation_total(self) -> float:
        return round(sum(c.amount for c in self.compensation), 2)

    @property
    def total_due(self) -> float:
        return round(self.fines + self.compensation_total, 2)

    @property
    def dismissal_review(self) -> list[str]:
        return [r for r, e in sorted(self.escalation.items()) if e.action == "dismissal_review"]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["escalation"] = {k: asdict(v) for k, v in sorted(self.escalation.items())}
        data.update(
            violations_count=self.violations_count, excused_count=self.excused_count, fines=self.fines,
            compensation_total=self.compensation_total, total_due=self.total_due,
            dismissal_review=self.dismissal_review,
        )
        return data


@dataclass
class Assessment:
    month: str
    site: str
    agents: list[AgentScore]
    unassigned: list[dict[str, Any]]  # loss incidents nobody could be charged for


# ---------------------------------------------------------------- the rules of the ladder


def ladder(site: Site, rule_id: str) -> Escalation:
    own = site.rules.rules.get(rule_id)
    return own.escalation if own is not None and own.escalation is not None else site.rules.escalation


def counts_for_escalation(site: Site, rule_id: str) -> bool:
    own = site.rules.rules.get(rule_id)
    return site.rules.rule(rule_id).points > 0 or (own is not None and own.escalation is not None)


def step_action(esc: Escalation, step: int) -> tuple[str, float]:
    """What the `step`-th violation of a rule costs: (action, fine)."""
    if step <= len(esc.fines):
        action = "warning" if step == 1 and esc.warning_first else "fine"
        return action, float(esc.fines[step - 1])
    return "dismissal_review", 0.0


def grade(site: Site, score: float) -> str:
    g = site.rules.grades
    if score >= g.excellent:
        return "excellent"
    if score >= g.good:
        return "good"
    if score >= g.pass_:
        return "pass"
    return "fail"


# ---------------------------------------------------------------- compensation


def _split(total: float, n: int) -> list[float]:
    """Split an amount in n equal parts to the cent; the first parts take the leftover cents."""
    cents = round(total * 100)
    base, extra = divmod(cents, n)
    return [(base + (1 if i < extra else 0)) / 100 for i in range(n)]


def _price(incident: dict[str, Any], site: Site) -> float:
    if incident.get("price") is not None:
        return float(incident["price"])
    return next((p.price for p in site.prices if p.kind == incident.get("kind")), 0.0)


def _on_shift_at(site: Site, reader: ReportReader, ms: int, home_seat: str | None) -> list[str]:
    """The team on shift at `ms`: attendees of the shift covering that moment, of the team of
    whoever was rostered at the home seat (everyone on shift when that is unknown)."""
    moment = dt.datetime.fromtimestamp(ms / 1000, site.tz)
    for day in (moment.date(), moment.date() - dt.timedelta(days=1)):  # overnight shifts
        for tmpl in site.info.shifts:
            start = dt.datetime.combine(day, tmpl.start_time, site.tz)
            end = dt.datetime.combine(day + dt.timedelta(days=1 if tmpl.crosses_midnight else 0), tmpl.end_time, site.tz)
            if not start <= moment < end:
                continue
            rows = reader.shift_attendance(day.isoformat(), tmpl.id) or reader.shift_attendance(
                day.isoformat(), f"{day.isoformat()}/{tmpl.id}"
            )
            present = [r for r in rows if r["rollcall"] not in NOT_ATTENDED]
            if not present:
                continue
            team = next((r["team"] for r in rows if home_seat and r["rostered_seat"] == home_seat), None)
            members = [r["employee_no"] for r in present if team is None or r["team"] == team]
            if members:
                return members
    return []


def incident_charges(incident: dict[str, Any], site: Site, reader: ReportReader) -> list[Charge]:
    """Who pays what for one equipment incident (nothing unless it is an unrecovered loss).

    The engine records each liable person's share of the price (and, when it split the price
    across a team, the exact amount in cents); without anyone liable the team on shift pays.
    """
    if incident.get("rule") not in LOSS_RULES or incident.get("closed") is not None:
        return []
    price = _price(incident, site)
    base = {"incident": str(incident["id"]), "tag": incident.get("tag") or "", "kind": incident.get("kind") or ""}
    liable = [p for p in incident.get("liable") or [] if isinstance(p, dict) and p.get("employee_no")]
    if liable:
        charges = []
        for p in liable:
            share = _float(p.get("share"), 1.0 / len(liable))
            amount = _float(p.get("amount"), round(price * share, 2))
            charges.append(Charge(**base, employee_no=str(p["employee_no"]), share=share, amount=round(amount, 2),
                                  team_shared=len(liable) > 1))
        return charges
    seen = incident.get("last_seen") or incident.get("opened")
    members = _on_shift_at(site, reader, int(seen), incident.get("home_seat")) if seen is not None else []
    if not members:
        return []
    return [
        Charge(**base, employee_no=emp, share=1 / len(members), amount=amount, team_shared=True)
        for emp, amount in zip(members, _split(price, len(members)), strict=True)
    ]


def _float(value: Any, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


# ---------------------------------------------------------------- the month


def assess_month(
    site: Site, store: Store, month: str | dt.date, *, team: str | None = None, agent: str | None = None
) -> Assessment:
    """Score every agent for one calendar month (site-local dates)."""
    first = parse_month(month) if isinstance(month, str) else month.replace(day=1)
    last = month_end(first)
    label = first.strftime("%Y-%m")
    people = {a.employee_no: a for a in site.agents}

    def wanted(emp: str, emp_team: str | None) -> bool:
        return (agent is None or emp == agent) and (team is None or emp_team == team)

    scores: dict[str, AgentScore] = {}

    def score_of(emp: str, emp_team: str | None) -> AgentScore:
        if emp not in scores:
            person = people.get(emp)
            scores[emp] = AgentScore(label, emp, person.name if person else "", person.team if person else (emp_team or ""),
                                     0.0, 100.0, "excellent")
        return scores[emp]

    for a in site.agents:
        if a.active and a.role == "agent" and wanted(a.employee_no, a.team):
            score_of(a.employee_no, a.team)

    unassigned: list[dict[str, Any]] = []
    with ReportReader(store) as reader:
        for emp in reader.employees_with_rows(first.isoformat(), last.isoformat()):
            person = people.get(emp)
            if wanted(emp, person.team if person else None) and (person is None or person.role == "agent"):
                score_of(emp, None)
        steps: dict[tuple[str, str], int] = {}
        waived: set[tuple[str, str, int | None]] = set()  # excused EQUIP-LIABILITY: (agent, tag, opened)
        for v in reader.violations(first.isoformat(), last.isoformat(), agents_only=True):
            emp = v["employee_no"]
            if v.get("rule") == "EQUIP-LIABILITY" and v.get("excused"):
                waived.add((emp, str((v.get("details") or {}).get("tag", "")), v.get("start")))
            person = people.get(emp)
            if not wanted(emp, person.team if person else v.get("team")):
                continue
            s = score_of(emp, v.get("team"))
            rule = v.get("rule") or ""
            excused = bool(v.get("excused"))
            points = 0.0 if excused else float(site.rules.rule(rule).points)
            step = action = None
            fine = 0.0
            if not excused and counts_for_escalation(site, rule):
                step = steps[(emp, rule)] = steps.get((emp, rule), 0) + 1
                action, fine = step_action(ladder(site, rule), step)
                prev = s.escalation.get(rule)
                s.escalation[rule] = RuleEscalation(rule, step, step, action, round((prev.fines if prev else 0) + fine, 2))
            s.violations.append(ScoredViolation(
                str(v["id"]), rule, v.get("kind"), v.get("date") or "", v.get("start"), v.get("shift"), v.get("seat"),
                points, excused, v.get("excuse_reason"), step, action, fine, [str(e) for e in v.get("evidence") or []],
            ))
            s.points += points
        lo, hi = day_start_ms(first, site.tz), day_start_ms(last + dt.timedelta(days=1), site.tz)
        for inc in reader.equipment_incidents(lo, hi):
            charges = [
                c for c in incident_charges(inc, site, reader)
                if (c.employee_no, c.tag, inc.get("opened")) not in waived
            ]
            if not charges and inc.get("rule") in LOSS_RULES and inc.get("closed") is None:
                unassigned.append({k: inc.get(k) for k in ("id", "tag", "kind", "home_seat", "opened", "last_seen")})
            for c in charges:
                person = people.get(c.employee_no)
                if wanted(c.employee_no, person.team if person else None):
                    score_of(c.employee_no, None).compensation.append(c)

    for s in scores.values():
        s.points = round(s.points, 2)
        s.score = round(max(0.0, 100.0 - s.points), 2)
        s.grade = grade(site, s.score)
    ordered = sorted(scores.values(), key=lambda s: (s.team, s.employee_no))
    return Assessment(label, site.id, ordered, unassigned)
