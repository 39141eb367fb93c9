"""The site as files: layout, rules, agents, equipment, prices, devices and roster.

`load_site(dir)` reads a `firmware_cfg/sites/<site>/` folder into one validated `Site`, or raises
`SiteConfigError` listing every problem found, each naming file, key (or CSV row and column) and
reason. `floorwatch check-config DIR` is a thin wrapper around it.

Folder contents:
  site.toml        id, name, timezone, zones, seats (with map positions), doors, kiosks, shifts
  rules.toml       thresholds per rule id (defaults from RULES.md), points and escalation
  agents.csv       employee_no, name, team, role, badges (";"-separated card forms, hub.cards), active
  equipment.csv    tag, kind, home_seat
  prices.csv       kind, name, price (the compensation table, CNY)
  roster.csv       date, employee_no, shift, seat, meal_start  (optional here; usually imported)
  holidays.csv     date, kind (holiday | workday), name[, status official | provisional]: public holidays and 调休 working days
  patterns.toml    shift patterns (rotations) per team; assignments.csv puts agents on them
                   (hub.roster.roster_files checks these three)
  devices/*.toml   one file per Pi (edge.config.DeviceConfig)
  alerts.toml      where alerts go: channels and routes (optional; hub.alerts.alerts_toml checks it)
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edge.config import DeviceConfig, load_device_config, load_toml, validation_to_config_error
from edge.exceptions import ConfigError
from edge.wire import ID_PATTERN
from hub.alerts.alerts_toml import AlertsConfig
from hub.alerts.alerts_toml import check as check_alerts
from hub.cards import CardForm, CardIndex, clashes, merge_forms, parse_card
from hub.errors import SiteConfigError
from hub.roster.roster_files import load_roster_config
from hub.sitecsv import read_csv_rows

HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- site.toml


class Zone(_Model):
    id: Annotated[str, Field(min_length=1, max_length=32)]
    name: str
    ac_relay_device: str | None = None  # a zone device whose relay switches the air conditioning


class Seat(_Model):
    id: Annotated[str, Field(min_length=1, max_length=32)]
    zone: str
    x: float
    y: float
    position: str | None = None  # a position shared by consecutive shifts (handover), default the seat


class Door(_Model):
    id: Annotated[str, Field(min_length=1, max_length=32)]
    name: str
    kind: Literal["entry", "exit", "both"] = "both"
    zone: str | None = None
    x: float = 0
    y: float = 0


class Kiosk(_Model):
    id: Annotated[str, Field(min_length=1, max_length=32)]
    name: str
    x: float = 0
    y: float = 0


class ShiftTemplate(_Model):
    id: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")]
    name: str
    start: HHMM
    end: HHMM  # an end at or before the start crosses midnight
    meal_minutes: Annotated[int, Field(ge=0)] = 30

    @property
    def start_time(self) -> dt.time:
        return dt.time.fromisoformat(self.start)

    @property
    def end_time(self) -> dt.time:
        return dt.time.fromisoformat(self.end)

    @property
    def crosses_midnight(self) -> bool:
        return self.end_time <= self.start_time


class MapConfig(_Model):
    width: float = 1200
    height: float = 700


class SiteInfo(_Model):
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    name: str
    timezone: str = "Asia/Shanghai"
    opening: HHMM = "07:00"  # facilities rules (FAC-ZONE-EMPTY) apply in opening hours
    closing: HHMM = "23:59"
    map: MapConfig = MapConfig()
    zones: list[Zone]
    seats: list[Seat]
    doors: list[Door] = []
    kiosks: list[Kiosk] = []
    shifts: list[ShiftTemplate]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v


# ---------------------------------------------------------------- rules.toml


class Escalation(_Model):
    """What the n-th violation of a rule in one assessment period costs."""

    fines: list[float] = [10, 30]  # 1st, 2nd; the step after the last fine is dismissal review
    warning_first: bool = True


class RuleSettings(_Model):
    enabled: bool = True
    points: float = 2
    escalation: Escalation | None = None


class Thresholds(_Model):
    """Every number of RULES.md, named for what it limits. Seconds unless the name says."""

    badge_grace_s: Annotated[float, Field(ge=0)] = 120
    badge_min_travel_s: Annotated[float, Field(ge=0)] = 30
    tailgate_window_s: Annotated[float, Field(ge=0)] = 10
    roll_call_lead_min: Annotated[float, Field(ge=0)] = 10
    absent_after_min: Annotated[float, Field(ge=0)] = 30
    seat_signin_window_min: Annotated[float, Field(ge=0)] = 3
    early_leave_grace_min: Annotated[float, Field(ge=0)] = 0
    break_max_min: Annotated[float, Field(gt=0)] = 10
    break_total_min: Annotated[float, Field(gt=0)] = 30
    meal_max_min: Annotated[float, Field(gt=0)] = 30
    meal_slot_tolerance_min: Annotated[float, Field(ge=0)] = 5
    peak_idle_threshold: Annotated[int, Field(ge=0)] = 3
    equipment_missing_cycles: Annotated[int, Field(ge=1)] = 2
    inventory_period_s: Annotated[float, Field(gt=0)] = 60
    zone_empty_min: Annotated[float, Field(ge=0)] = 15
    ac_precool_min: Annotated[float, Field(ge=0)] = 15  # FAC-ZONE-EMPTY's relay: A/C on before a rostered shift
    equipment_audit_grace_min: Annotated[float, Field(ge=0)] = 5  # EQUIP-MISSING: shift end + this is the audit
    heartbeat_s: Annotated[float, Field(gt=0)] = 30
    offline_after_s: Annotated[float, Field(gt=0)] = 90
    clock_skew_max_s: Annotated[float, Field(ge=0)] = 5
    reorder_tolerance_s: Annotated[float, Field(ge=0)] = 60
    tap_hold_off_s: Annotated[float, Field(ge=0)] = 2


class Grades(_Model):
    excellent: float = 90  # 优秀
    good: float = 80  # 良好
    pass_: Annotated[float, Field(alias="pass")] = 70  # 合格; below is 不合格


class Retention(_Model):
    raw_events_days: Annotated[int, Field(ge=1)] = 90
    occupancy_days: Annotated[int, Field(ge=1)] = 90
    attendance_days: Annotated[int, Field(ge=1)] = 730
    audit_days: Annotated[int, Field(ge=1)] = 730


DAY_KINDS = ("all", "workday", "weekend", "holiday", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CoverageTarget(_Model):
    """At least `min_agents` on shift in each hour of `hours` ("08-23": 08:00 to 23:00) on days
    of a kind (by the site calendar: a 调休 Saturday is a workday); per team, or the whole floor."""

    days: Literal[DAY_KINDS] = "all"  # type: ignore[valid-type]
    hours: Annotated[str, Field(pattern=r"^([01]\d|2[0-3])-([01]\d|2[0-4])$")]
    min_agents: Annotated[int, Field(ge=0)]
    team: str | None = None

    @property
    def hour_range(self) -> range:
        a, b = (int(x) for x in self.hours.split("-"))
        return range(a, b)

    def applies(self, weekday: int, day_type: str) -> bool:
        return self.days in ("all", day_type) or self.days == DAY_KINDS[4 + weekday]


class RosterPolicy(_Model):
    """What a planned month must give each agent (客服组排班制度: 每月四天休息, 做六休一)."""

    min_rest_days: Annotated[int, Field(ge=0, le=31)] = 4
    max_consecutive_days: Annotated[int, Field(ge=1, le=31)] = 6
    evening_shifts: list[str] = ["night"]  # shifts counted as evening duties for fairness


RULE_IDS = (
    "BADGE-NO-TAP", "BADGE-UNKNOWN", "BADGE-WRONG-SEAT", "BADGE-SHARED", "BADGE-TAILGATE",
    "ROLL-EARLY", "ROLL-ABSENT", "ROLL-SEAT-SIGNIN", "ROLL-EARLY-LEAVE", "ROLL-HANDOVER",
    "SWAP-UNAPPROVED",
    "AWAY-BREAK-LONG", "AWAY-BREAK-TOTAL", "AWAY-MEAL-LONG", "AWAY-MEAL-SLOT", "AWAY-PEAK",
    "AWAY-UNATTENDED",
    "EQUIP-MOVED", "EQUIP-MISSING", "EQUIP-EXIT", "EQUIP-LIABILITY",
    "FAC-ZONE-EMPTY", "DEV-OFFLINE", "DEV-CLOCK",
)  # fmt: skip


class Rules(_Model):
    thresholds: Thresholds = Thresholds()
    grades: Grades = Grades()
    escalation: Escalation = Escalation()  # default ladder for every rule
    retention: Retention = Retention()
    rules: dict[str, RuleSettings] = {}
    coverage: list[CoverageTarget] = []  # per-hour seat coverage a planned month must meet
    roster: RosterPolicy = RosterPolicy()

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, v: dict[str, RuleSettings]) -> dict[str, RuleSettings]:
        for rule_id in v:
            if rule_id not in RULE_IDS:
                raise ValueError(f"unknown rule id {rule_id!r}")
        return v

    def rule(self, rule_id: str) -> RuleSettings:
        return self.rules.get(rule_id, RuleSettings())


# ---------------------------------------------------------------- CSV files


class Agent(_Model):
    employee_no: Annotated[str, Field(min_length=1, max_length=32)]
    name: Annotated[str, Field(min_length=1)]
    team: Annotated[str, Field(min_length=1)]
    role: Literal["agent", "lead"] = "agent"
    badges: list[str] = []  # canonical card forms (hub.cards): what is known of each card
    active: bool = True

    @field_validator("badges")
    @classmethod
    def _card_forms(cls, v: list[str]) -> list[str]:
        return [parse_card(b).text for b in v]

    @property
    def cards(self) -> list[CardForm]:
        """This agent's cards (forms of one card, e.g. its id and its printed facility,card, merged)."""
        return merge_forms(parse_card(b) for b in self.badges)


class Equipment(_Model):
    tag: Annotated[str, Field(min_length=1, max_length=64)]
    kind: Annotated[str, Field(min_length=1)]
    home_seat: str


class Price(_Model):
    kind: Annotated[str, Field(min_length=1)]
    name: str
    price: Annotated[float, Field(ge=0)]


class RosterEntry(_Model):
    date: dt.date
    employee_no: str
    shift: str
    seat: str
    meal_start: HHMM | None = None


# ---------------------------------------------------------------- the whole site


@dataclass
class Site:
    root: Path
    info: SiteInfo
    rules: Rules
    agents: list[Agent]
    equipment: list[Equipment]
    prices: list[Price]
    roster: list[RosterEntry]
    devices: dict[str, DeviceConfig]
    device_hashes: dict[str, str] = field(default_factory=dict)
    alerts: AlertsConfig | None = None  # alerts.toml; None: the site sends no alerts

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.info.timezone)

    def seat(self, seat_id: str) -> Seat | None:
        return self._seats_by_id.get(seat_id)

    @functools.cached_property
    def _seats_by_id(self) -> dict[str, Seat]:
        """The engine asks for a seat on every seat event: a dict, not a scan of 2,000 seats."""
        return {s.id: s for s in self.info.seats}

    def agent(self, employee_no: str) -> Agent | None:
        return self._agents_by_no.get(employee_no)

    @functools.cached_property
    def _agents_by_no(self) -> dict[str, Agent]:
        """An alert, an enrolment or a badge change names its agent: a dict, not a scan per call."""
        return {a.employee_no: a for a in self.agents}

    def shift(self, shift_id: str) -> ShiftTemplate | None:
        return next((s for s in self.info.shifts if s.id == shift_id), None)

    def badge_owner(self) -> dict[str, Agent]:
        """Card (canonical text, hub.cards) -> active agent."""
        return {c.text: a for a in self.agents if a.active for c in a.cards}

    def reader_bits(self, device: str, reader: str | None) -> int | None:
        """How many bits of a card a device's badge reader sees, from its device file (None: the
        file does not say, or no such device or reader)."""
        return self._reader_bits.get((device, reader or ""))

    @functools.cached_property
    def _reader_bits(self) -> dict[tuple[str, str], int | None]:
        return {(d.id, r.name): r.seen_bits for d in self.devices.values() for r in d.readers if r.role == "badge"}

    def reader_widths(self) -> dict[int, str]:
        """Each width of card the site's badge readers see -> the first such reader, described."""
        out: dict[int, str] = {}
        for (dev, name), bits in sorted(self._reader_bits.items()):
            if bits is not None:
                out.setdefault(bits, f"{dev} reader {name!r} ({bits} bits)")
        return out

    def card_index(self) -> CardIndex:
        """Every card of the registry's agents, active or not (a revoked card still reads as itself)."""
        return CardIndex(c for a in self.agents for c in a.cards)


def _load_model(path: Path, model: type[_Model], errors: list[ConfigError]):
    try:
        data, _ = load_toml(path)
    except ConfigError as exc:
        errors.append(exc)
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            key = ".".join(str(p) for p in err["loc"]) or "-"
            errors.append(ConfigError(str(path), key, err["msg"]))
        return None


def _cross_check(site: Site, errors: list[ConfigError]) -> None:
    """References between files: seats to zones, equipment to seats, devices to places..."""
    root = site.root
    info = site.info
    zone_ids = {z.id for z in info.zones}
    seat_ids = {s.id for s in info.seats}
    door_ids = {d.id for d in info.doors}
    kiosk_ids = {k.id for k in info.kiosks}
    shift_ids = {s.id for s in info.shifts}

    def dupes(ids: list[str], path: Path, what: str) -> None:
        seen: set[str] = set()
        for i in ids:
            if i in seen:
                errors.append(ConfigError(str(path), what, f"duplicate id {i!r}"))
            seen.add(i)

    site_toml = root / "site.toml"
    dupes([z.id for z in info.zones], site_toml, "zones")
    dupes([s.id for s in info.seats], site_toml, "seats")
    dupes([d.id for d in info.doors] + [k.id for k in info.kiosks], site_toml, "doors/kiosks")
    dupes([s.id for s in info.shifts], site_toml, "shifts")
    for i, seat in enumerate(info.seats):
        if seat.zone not in zone_ids:
            errors.append(ConfigError(str(site_toml), f"seats.{i}.zone", f"unknown zone {seat.zone!r}"))
    for i, door in enumerate(info.doors):
        if door.zone is not None and door.zone not in zone_ids:
            errors.append(ConfigError(str(site_toml), f"doors.{i}.zone", f"unknown zone {door.zone!r}"))

    agents_csv = root / "agents.csv"
    dupes([a.employee_no for a in site.agents], agents_csv, "employee_no")
    badge_seen: dict[str, str] = {}
    for a in site.agents:
        for b in a.badges:
            other = badge_seen.setdefault(b.upper(), a.employee_no)
            if other != a.employee_no:
                errors.append(ConfigError(str(agents_csv), "badges", f"badge {b!r} belongs to both {other} and {a.employee_no}"))
    _check_readers(site, errors)
    kinds = {p.kind for p in site.prices}
    equipment_csv = root / "equipment.csv"
    dupes([e.tag for e in site.equipment], equipment_csv, "tag")
    for e in site.equipment:
        if e.home_seat not in seat_ids:
            errors.append(ConfigError(str(equipment_csv), f"tag {e.tag}", f"unknown home_seat {e.home_seat!r}"))
        if e.kind not in kinds:
            errors.append(ConfigError(str(equipment_csv), f"tag {e.tag}", f"kind {e.kind!r} has no price in prices.csv"))
    employees = {a.employee_no for a in site.agents}
    roster_csv = root / "roster.csv"
    for r in site.roster:
        where = f"{r.date} {r.employee_no}"
        if r.employee_no not in employees:
            errors.append(ConfigError(str(roster_csv), where, f"unknown employee_no {r.employee_no!r}"))
        if r.shift not in shift_ids:
            errors.append(ConfigError(str(roster_csv), where, f"unknown shift {r.shift!r}"))
        if r.seat not in seat_ids:
            errors.append(ConfigError(str(roster_csv), where, f"unknown seat {r.seat!r}"))
    places = {"seat": seat_ids, "door": door_ids, "kiosk": kiosk_ids, "zone": zone_ids}
    for dev_id, dev in site.devices.items():
        path = root / "devices" / f"{dev_id}.toml"
        if dev.site != info.id:
            errors.append(ConfigError(str(path), "site", f"{dev.site!r} is not this site ({info.id!r})"))
        if dev.place not in places[dev.role]:
            errors.append(ConfigError(str(path), dev.role, f"unknown {dev.role} {dev.place!r}"))
    relay_of: dict[str, str] = {}
    for i, z in enumerate(info.zones):
        dev_id = z.ac_relay_device
        if dev_id is None:
            continue
        key = f"zones.{i}.ac_relay_device"
        dev = site.devices.get(dev_id)
        if dev is None:
            errors.append(ConfigError(str(site_toml), key, f"unknown device {dev_id!r} (no valid devices/{dev_id}.toml)"))
        elif dev.relay is None:
            errors.append(ConfigError(str(root / "devices" / f"{dev_id}.toml"), "relay",
                                      f"zone {z.id} switches its A/C with this device, which has no [relay] section"))
        if dev_id in relay_of:
            errors.append(ConfigError(str(site_toml), key, f"{dev_id!r} already switches zone {relay_of[dev_id]}'s A/C"))
        relay_of.setdefault(dev_id, z.id)
    for i, c in enumerate(site.rules.coverage):
        if c.team is not None and c.team not in {a.team for a in site.agents}:
            errors.append(ConfigError(str(root / "rules.toml"), f"coverage.{i}.team", f"no agent is in team {c.team!r}"))
        if not c.hour_range:
            errors.append(ConfigError(str(root / "rules.toml"), f"coverage.{i}.hours", f"{c.hours!r} is an empty range"))
    for i, sid in enumerate(site.rules.roster.evening_shifts):
        if sid not in shift_ids:
            errors.append(ConfigError(str(root / "rules.toml"), f"roster.evening_shifts.{i}", f"unknown shift {sid!r}"))
    errors += load_roster_config(site)[1]
    check_alerts(site.alerts, str(site.root / "alerts.toml"), rule_ids=RULE_IDS, zones={z.id for z in site.info.zones},
                 teams={a.team for a in site.agents}, errors=errors)


def _check_readers(site: Site, errors: list[ConfigError]) -> None:
    """Every badge reader says how many bits of a card it sees, and no two active cards look
    alike to one of them: a tap the hub cannot attribute to one card is a false accusation."""
    for dev in site.devices.values():
        for i, r in enumerate(dev.readers):
            if r.role == "badge" and r.seen_bits is None:
                errors.append(ConfigError(
                    str(site.root / "devices" / f"{dev.id}.toml"), f"readers.{i}.card_bits",
                    f"reader {r.name!r} ({r.kind}) does not say how many bits of a card it sees:"
                    " set card_bits (e.g. 40 for a full EM4100 id, 32 for the printed decimal)"))
    readers = site.reader_widths()
    owners: dict[CardForm, list[str]] = {}
    for a in site.agents:
        if a.active:
            for c in a.cards:
                owners.setdefault(c, []).append(a.employee_no)
    for k in clashes(owners, readers):
        errors.append(ConfigError(
            str(site.root / "agents.csv"), "badges",
            f"{owners[k.a][0]}'s badge {k.a} and {owners[k.b][0]}'s badge {k.b} look the same to"
            f" {readers[k.width]}: it cannot tell them apart"))


def load_site(root: str | Path, *, with_roster: bool = True) -> Site:
    """Read and validate a whole site folder; raise SiteConfigError with every problem."""
    root = Path(root)
    errors: list[ConfigError] = []
    if not (root / "site.toml").is_file():
        raise SiteConfigError([ConfigError(str(root / "site.toml"), "-", "missing")])
    info = _load_model(root / "site.toml", SiteInfo, errors)
    rules_path = root / "rules.toml"
    rules = _load_model(rules_path, Rules, errors) if rules_path.exists() else Rules()
    agents = read_csv_rows(root / "agents.csv", Agent, errors)
    equipment = read_csv_rows(root / "equipment.csv", Equipment, errors) if (root / "equipment.csv").exists() else []
    prices = read_csv_rows(root / "prices.csv", Price, errors) if (root / "prices.csv").exists() else []
    roster_path = root / "roster.csv"
    roster = read_csv_rows(roster_path, RosterEntry, errors) if with_roster and roster_path.exists() else []
    devices: dict[str, DeviceConfig] = {}
    hashes: dict[str, str] = {}
    for path in sorted((root / "devices").glob("*.toml")):
        try:
            dev, digest = load_device_config(path)
        except ConfigError as exc:
            errors.append(exc)
            continue
        except ValidationError as exc:  # pragma: no cover - load_device_config converts these
            errors.append(validation_to_config_error(path, exc))
            continue
        if dev.id != path.stem:
            errors.append(ConfigError(str(path), "id", f"{dev.id!r} differs from the file name"))
        devices[dev.id] = dev
        hashes[dev.id] = digest
    alerts_path = root / "alerts.toml"
    alerts = _load_model(alerts_path, AlertsConfig, errors) if alerts_path.exists() else None
    if info is None or rules is None:
        raise SiteConfigError(errors)
    site = Site(root, info, rules, agents, equipment, prices, roster, devices, hashes, alerts)
    _cross_check(site, errors)
    if errors:
        raise SiteConfigError(errors)
    return site


def example_site_dir() -> Path:
    """The example site shipped inside the package (the demo's embedded default)."""
    from importlib.resources import files

    return Path(str(files("firmware_cfg") / "sites" / "example"))
