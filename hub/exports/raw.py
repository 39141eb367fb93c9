"""Raw exports for audits and disputes: badge taps, seat occupancy intervals, violations with
their evidence, equipment incidents and the audit trail of lead actions. Each family is a column
list plus a row generator over `ReportReader`; the team and agent filters mean "rows about
these people"."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hub.engine.plans import Plans
from hub.exports import labels
from hub.exports.formats import Column, Sheet, local_datetime
from hub.exports.query import ExportQuery
from hub.site import Agent, Site
from hub.store import Store
from hub.store.derived import DerivedStore
from hub.store.reports import ReportReader

EVIDENCE_BATCH = 200


def name_and_team(row: dict[str, Any], agent: Agent | None) -> None:
    """The person's name and team on a row about them (none for a stranger's card)."""
    row["name"] = agent.name if agent else None
    row["team"] = agent.team if agent else None


def selected_employees(site: Site, q: ExportQuery) -> set[str] | None:
    """Employee numbers the query is about, or None for everyone."""
    if q.agent is None and q.team is None:
        return None
    return {
        a.employee_no
        for a in site.agents
        if (q.agent is None or a.employee_no == q.agent) and (q.team is None or a.team == q.team)
    }


def _minutes(start: int | None, end: int | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start) / 60000, 1)


# ---------------------------------------------------------------- taps

TAP_COLUMNS = [
    Column("ts", "时间", "Time", "datetime", 19),
    Column("device", "设备", "Device", "text", 14),
    Column("place", "位置", "Place", "text", 8),
    Column("place_kind", "位置类型", "Place kind", "enum", 9, labels=labels.PLACE_KINDS),
    Column("reader", "读卡器", "Reader", "text", 9),
    Column("uid", "卡号", "Badge UID", "text", 14),
    Column("employee_no", "工号", "Employee no.", "text", 10),
    Column("name", "姓名", "Name", "text", 10),
    Column("team", "班组", "Team", "text", 8),
    Column("received", "接收时间", "Received", "datetime", 19),
    Column("clock_ok", "设备时钟正常", "Device clock ok", "bool", 10),
    Column("event_id", "事件编号", "Event id", "text", 38),
]


def tap_rows(site: Site, store: Store, q: ExportQuery) -> Iterator[dict[str, Any]]:
    """Each tap with whoever held that card at that moment (badge history: agents.csv, then the
    leads' replacements and revocations, hub.engine.plans), not today's agents.csv."""
    plans = Plans(site, DerivedStore(store))  # the cards the engine knows, and who held each when
    wanted = selected_employees(site, q)
    lo, hi = q.utc_ms_range(site.tz)
    with ReportReader(store) as reader:
        for row in reader.badge_events(lo, hi):
            stated = row.pop("card_bits", None)
            agent = plans.holder(plans.tap_key(row["device"], {"uid": row["uid"], "reader": row["reader"],
                                                               "card_bits": stated}), row["ts"])
            if wanted is not None and (agent is None or agent.employee_no not in wanted):
                continue
            dev = site.devices.get(row["device"])
            row["place"] = dev.place if dev else None
            row["place_kind"] = dev.role if dev else None
            row["employee_no"] = agent.employee_no if agent else None
            name_and_team(row, agent)
            yield row


# ---------------------------------------------------------------- occupancy

OCCUPANCY_COLUMNS = [
    Column("seat", "台席", "Seat", "text", 8),
    Column("zone", "区域", "Zone", "text", 6),
    Column("device", "设备", "Device", "text", 14),
    Column("start", "开始", "Start", "datetime", 19),
    Column("end", "结束", "End", "datetime", 19),
    Column("minutes", "时长(分钟)", "Minutes", "number", 10, digits=1),
    Column("occupied_by", "工号", "Employee no.", "text", 10),
    Column("name", "姓名", "Name", "text", 10),
    Column("team", "班组", "Team", "text", 8),
    Column("id", "编号", "Id", "text", 10),
]


def occupancy_rows(site: Site, store: Store, q: ExportQuery) -> Iterator[dict[str, Any]]:
    zones = {s.id: s.zone for s in site.info.seats}
    wanted = selected_employees(site, q)
    lo, hi = q.utc_ms_range(site.tz)
    with ReportReader(store) as reader:
        for row in reader.occupancy_intervals(lo, hi, occupied_by=sorted(wanted) if wanted is not None else None):
            row["zone"] = zones.get(row.get("seat") or "")
            row["minutes"] = _minutes(row.get("start"), row.get("end"))
            name_and_team(row, site.agent(row.get("occupied_by") or ""))
            yield row


# ---------------------------------------------------------------- violations

VIOLATION_COLUMNS = [
    Column("id", "编号", "Id", "text", 14),
    Column("date", "日期", "Date", "date", 11),
    Column("rule", "规则", "Rule", "text", 18),
    Column("rule_name", "规则名称", "Rule name", "text", 14),
    Column("kind", "类型", "Kind", "text", 14),
    Column("employee_no", "工号", "Employee no.", "text", 10),
    Column("name", "姓名", "Name", "text", 10),
    Column("team", "班组", "Team", "text", 8),
    Column("shift", "班次", "Shift", "text", 16),
    Column("seat", "台席", "Seat", "text", 8),
    Column("zone", "区域", "Zone", "text", 6),
    Column("device", "设备", "Device", "text", 14),
    Column("start", "开始", "Start", "datetime", 19),
    Column("end", "结束", "End", "datetime", 19),
    Column("minutes", "时长(分钟)", "Minutes", "number", 10, digits=1),
    Column("points", "扣分", "Points", "number", 7),
    Column("amount", "金额(元)", "Amount (CNY)", "number", 10, digits=2),
    Column("excused", "已免责", "Excused", "bool", 8),
    Column("excuse_reason", "免责原因", "Excuse reason", "text", 20),
    Column("excused_by", "免责人", "Excused by", "text", 10),
    Column("excused_at", "免责时间", "Excused at", "datetime", 19),
    Column("evidence", "证据事件", "Evidence event ids", "list", 40),
    Column("evidence_summary", "证据", "Evidence", "text", 50),
    Column("details", "详情", "Details", "json", 30),
]


def describe_event(ev: dict[str, Any], site: Site) -> str:
    """One evidence event as a person reads it: local time, device, what happened."""
    when = local_datetime(int(ev["ts"]), site.tz).strftime("%m-%d %H:%M:%S")
    body = ev.get("body") or {}
    what = ev.get("type", "")
    if what == "badge":
        what = f"badge {body.get('uid', '')}"
    elif what == "occupancy":
        what = "occupied" if body.get("occupied") else "vacant"
    elif what == "button":
        what = f"button {body.get('button', '')}"
    elif what == "inventory":
        what = f"tags {len(body.get('tags') or [])}"
    return f"{when} {ev.get('device', '')} {what}"


def violation_rows(site: Site, store: Store, q: ExportQuery, lang: str = "zh") -> Iterator[dict[str, Any]]:
    employees = [q.agent] if q.agent else None

    def enrich(batch: list[dict[str, Any]], reader: ReportReader) -> Iterator[dict[str, Any]]:
        ids = [e for v in batch for e in v["evidence"]]
        starts = [v["start"] for v in batch if v.get("start") is not None]
        ends = [v.get("end") or v.get("start") for v in batch if (v.get("end") or v.get("start")) is not None]
        near = (min(starts), max(ends)) if starts and ends else None
        events = reader.evidence_events(ids, near) if ids else {}
        for v in batch:
            found = [events[e] for e in v["evidence"] if e in events]
            yield decorate_violation(v, site, lang, found)

    with ReportReader(store) as reader:
        batch: list[dict[str, Any]] = []
        for v in reader.violations(q.date_from.isoformat(), q.date_to.isoformat(), team=q.team, employees=employees):
            batch.append(v)
            if len(batch) >= EVIDENCE_BATCH:
                yield from enrich(batch, reader)
                batch = []
        if batch:
            yield from enrich(batch, reader)


def decorate_violation(v: dict[str, Any], site: Site, lang: str, evidence: list[dict[str, Any]]) -> dict[str, Any]:
    """Add names, points charged, duration and resolved evidence to a violations row."""
    agent = site.agent(v.get("employee_no") or "")
    v["name"] = agent.name if agent else None
    if not v.get("team") and agent:
        v["team"] = agent.team
    v["rule_name"] = labels.rule_name(v.get("rule") or "", lang)
    v["minutes"] = _minutes(v.get("start"), v.get("end"))
    v["excused"] = bool(v.get("excused"))
    v["points"] = 0 if v["excused"] else site.rules.rule(v.get("rule") or "").points
    v["evidence_summary"] = "; ".join(describe_event(e, site) for e in evidence)
    v["_evidence_events"] = [
        {"event_id": e["event_id"], "ts": local_datetime(int(e["ts"]), site.tz).isoformat(), "device": e["device"],
         "type": e["type"], "body": e["body"]}
        for e in evidence
    ]
    return v


# ---------------------------------------------------------------- equipment incidents

INCIDENT_COLUMNS = [
    Column("id", "编号", "Id", "text", 14),
    Column("rule", "规则", "Rule", "text", 14),
    Column("tag", "标签", "Tag", "text", 14),
    Column("kind", "设备类型", "Kind", "text", 10),
    Column("kind_name", "设备名称", "Equipment", "text", 14),
    Column("home_seat", "归属台席", "Home seat", "text", 9),
    Column("opened", "发生时间", "Opened", "datetime", 19),
    Column("closed", "关闭时间", "Closed", "datetime", 19),
    Column("last_seen", "最后出现", "Last seen", "datetime", 19),
    Column("last_seen_device", "最后出现设备", "Last seen by", "text", 14),
    Column("price", "价格(元)", "Price (CNY)", "number", 10, digits=2),
    Column("charges", "赔偿", "Charges", "list", 30),
    Column("liable", "责任人份额", "Liable shares", "json", 30),
    Column("evidence", "证据事件", "Evidence event ids", "list", 40),
]


def incident_rows(site: Site, store: Store, q: ExportQuery) -> Iterator[dict[str, Any]]:
    from hub.assess import incident_charges  # the one place compensation is computed

    kind_names = {p.kind: p.name for p in site.prices}
    wanted = selected_employees(site, q)
    lo, hi = q.utc_ms_range(site.tz)
    with ReportReader(store) as reader:
        for row in reader.equipment_incidents(lo, hi):
            charges = incident_charges(row, site, reader)
            if wanted is not None and not any(c.employee_no in wanted for c in charges):
                continue
            row["kind_name"] = kind_names.get(row.get("kind") or "")
            row["charges"] = [
                f"{c.employee_no} {getattr(site.agent(c.employee_no), 'name', '')} {c.amount:.2f}".replace("  ", " ")
                for c in charges
            ]
            yield row


# ---------------------------------------------------------------- audit trail

AUDIT_COLUMNS = [
    Column("ts", "时间", "Time", "datetime", 19),
    Column("actor", "操作人", "Actor", "text", 12),
    Column("action", "操作", "Action", "text", 18),
    Column("target", "对象", "Target", "text", 16),
    Column("details", "详情", "Details", "json", 50),
    Column("id", "编号", "Id", "int", 8),
]


def audit_rows(site: Site, store: Store, q: ExportQuery) -> Iterator[dict[str, Any]]:
    wanted = selected_employees(site, q)
    lo, hi = q.utc_ms_range(site.tz)
    with ReportReader(store) as reader:
        for row in reader.audit(lo, hi):
            if wanted is not None and row.get("target") not in wanted and row.get("actor") not in wanted:
                continue
            yield row


# ---------------------------------------------------------------- registry


def family_sheets(kind: str, site: Site, store: Store, q: ExportQuery, lang: str) -> list[Sheet]:
    if kind == "taps":
        return [Sheet("taps", TAP_COLUMNS, tap_rows(site, store, q))]
    if kind == "occupancy":
        return [Sheet("occupancy", OCCUPANCY_COLUMNS, occupancy_rows(site, store, q))]
    if kind == "violations":
        return [Sheet("violations", VIOLATION_COLUMNS, violation_rows(site, store, q, lang))]
    if kind == "incidents":
        return [Sheet("incidents", INCIDENT_COLUMNS, incident_rows(site, store, q))]
    if kind == "audit":
        return [Sheet("audit", AUDIT_COLUMNS, audit_rows(site, store, q))]
    raise ValueError(f"unknown export {kind!r}")
