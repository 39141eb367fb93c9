"""Generate a site folder of any size: the shipped example, and the large floors of benches and
soak tests. The output is ordinary site files, so everything that loads a real site loads these.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国志强雪梅晨阳欣怡子轩浩然思雨佳琪"

SITE_TOML_HEAD = """# The site: zones, seats with map positions, doors, kiosks and shift templates.
# Times are in the site's time zone; the wire carries UTC.
id = "{site}"
name = "{name}"
timezone = "{tz}"
opening = "07:00"
closing = "23:59"

[map]
width = {width}
height = {height}

# Shift templates from the seed: 白班 08:30–16:00, 晚班 16:00–23:30 (抖音小店),
# 09:00–18:00 with a one-hour lunch (淘宝 / 客服部). An end before the start crosses midnight.
[[shifts]]
id = "day"
name = "白班 Day"
start = "08:30"
end = "16:00"
meal_minutes = 30

[[shifts]]
id = "night"
name = "晚班 Evening"
start = "16:00"
end = "23:30"
meal_minutes = 30

[[shifts]]
id = "office"
name = "常白班 Office"
start = "09:00"
end = "18:00"
meal_minutes = 60

[[shifts]]
id = "overnight"
name = "夜班 Overnight"
start = "23:00"
end = "07:00"
meal_minutes = 30
"""

RULES_TOML = """# Rule thresholds (defaults from RULES.md), assessment points and escalation.
# Every number the engine uses lives here; nothing is a constant in code.

[thresholds]
badge_grace_s = 120            # BADGE-NO-TAP: occupied this long without a sign-in
badge_min_travel_s = 30        # BADGE-SHARED: fastest walk between two zones
tailgate_window_s = 10         # BADGE-TAILGATE
roll_call_lead_min = 10        # ROLL-EARLY: arrive this long before the shift starts
absent_after_min = 30          # ROLL-ABSENT: no arrival by start + this is 旷工
seat_signin_window_min = 3     # ROLL-SEAT-SIGNIN: sign in at the seat within this before start
early_leave_grace_min = 0      # ROLL-EARLY-LEAVE
break_max_min = 10             # AWAY-BREAK-LONG: one break
break_total_min = 30           # AWAY-BREAK-TOTAL: all breaks in one shift
meal_max_min = 30              # AWAY-MEAL-LONG
meal_slot_tolerance_min = 5    # AWAY-MEAL-SLOT
peak_idle_threshold = 3        # AWAY-PEAK: idle agents at or below this is "full line"
equipment_missing_cycles = 2   # EQUIP-MISSING: inventory cycles a tag may go unseen
inventory_period_s = 60
zone_empty_min = 15            # FAC-ZONE-EMPTY
heartbeat_s = 30               # DEV-OFFLINE
offline_after_s = 90
clock_skew_max_s = {clock_skew_max_s:<14g}# DEV-CLOCK
reorder_tolerance_s = 60       # out-of-order events within this are applied in device-time order
tap_hold_off_s = 2             # a second tap within this repeats the first result

[grades]                       # 客服主管考核制度 第十四条
excellent = 90                 # 优秀
good = 80                      # 良好
pass = 70                      # 合格 (below: 不合格)

[escalation]                   # default ladder for every rule within a month (淘宝客服)
fines = [10, 30]               # 1st: warning + ¥10, 2nd: ¥30, 3rd: dismissal review
warning_first = true

[retention]
raw_events_days = 90
occupancy_days = 90
attendance_days = 730          # aggregated attendance: the legal minimum, 2 years
audit_days = 730

# Points deducted from the monthly 100 per violation.
[rules.BADGE-NO-TAP]
points = 2
[rules.BADGE-UNKNOWN]
points = 0                     # a security alert about a visitor, not an agent's fault
[rules.BADGE-WRONG-SEAT]
points = 2
[rules.BADGE-SHARED]
points = 10
[rules.BADGE-TAILGATE]
points = 5
[rules.ROLL-EARLY]
points = 1
[rules.ROLL-ABSENT]
points = 20
[rules.ROLL-SEAT-SIGNIN]
points = 1
[rules.ROLL-EARLY-LEAVE]
points = 3
[rules.ROLL-HANDOVER]
points = 3
[rules.SWAP-UNAPPROVED]
points = 5
[rules.AWAY-BREAK-LONG]
points = 2
[rules.AWAY-BREAK-TOTAL]
points = 3
[rules.AWAY-MEAL-LONG]
points = 2
[rules.AWAY-MEAL-SLOT]
points = 2
[rules.AWAY-PEAK]
points = 2
[rules.AWAY-UNATTENDED]
points = 0                     # a live alert; the break/meal rules carry the points
[rules.EQUIP-MOVED]
points = 3
[rules.EQUIP-MISSING]
points = 5
[rules.EQUIP-EXIT]
points = 10
[rules.EQUIP-LIABILITY]
points = 0                     # the compensation is the consequence
[rules.FAC-ZONE-EMPTY]
points = 0
[rules.DEV-OFFLINE]
points = 0
[rules.DEV-CLOCK]
points = 0
"""

PRICES = [("headset", "耳机 Headset", 180.0), ("mouse", "鼠标 Mouse", 60.0), ("keyboard", "键盘 Keyboard", 90.0)]


def _name(i: int) -> str:
    return FAMILY[i % len(FAMILY)] + GIVEN[(i * 7) % len(GIVEN)] + (GIVEN[(i * 13 + 3) % len(GIVEN)] if i % 3 else "")


def _csv(rows: list[list], header: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def card_id(i: int) -> str:
    """The i-th agent's EM4100 card: a customer byte that is not 0 (so a W26 door, a decimal desk
    reader and an RDM6300 seat each see something different of it) and a number whose lower 24
    bits differ from every other card's (0x9E3779 is odd: (i + 1) * 0x9E3779 mod 2**24 never repeats)."""
    customer = 0x10 + (i * 37) % 0xE0
    number = 0x0A000000 + ((i + 1) * 0x9E3779) % (1 << 24)
    return f"{customer:02X}{number:08X}"


def device_toml(site: str, dev_id: str, role: str, place: str, *, sim: bool, broker_port: int = 1883) -> str:
    lines = [
        f'id = "{dev_id}"',
        f'site = "{site}"',
        f'role = "{role}"',
        f'{role} = "{place}"',
        "heartbeat_s = 30",
        "",
        "[broker]",
        'host = "127.0.0.1"',
        f"port = {broker_port}",
        "",
        "[spool]",
        f'path = "/var/lib/floorwatch/{dev_id}-spool.db"',
        "max_events = 100000",
        "",
    ]
    if sim:
        # simulated readers see what the hardware at that place would: all 40 bits at a seat's
        # RDM6300, the lower 24 at a W26 door, the printed 32-bit number at the kiosk's desk reader
        bits = {"seat": 40, "door": 24, "kiosk": 32}[role]
        lines += ["[[readers]]", 'name = "badge"', 'kind = "sim"', f"card_bits = {bits}", ""]
        if role == "seat":
            lines += ["[[readers]]", 'name = "tags"', 'kind = "sim"', 'role = "inventory"', "period_s = 60.0", ""]
            lines += ["[[sensors]]", 'name = "seat"', 'kind = "sim"', ""]
        return "\n".join(lines)
    if role == "seat":
        lines += [
            "# Badge reader: RDM6300 125 kHz module on the Pi's UART (udev names it).",
            "[[readers]]", 'name = "badge"', 'kind = "rdm6300"', 'port = "/dev/floorwatch-reader"', "hold_off_s = 2.0", "",
            "# Equipment tags (headset, mouse) under the desk: a second reader that reports inventory.",
            "[[readers]]", 'name = "tags"', 'kind = "line"', 'role = "inventory"', 'port = "/dev/floorwatch-tags"',
            "baudrate = 9600", "period_s = 60.0", "",
            "# Pressure mat on the chair (GPIO 17) and a PIR over the desk (GPIO 27).",
            "[[sensors]]", 'name = "mat"', 'kind = "mat"', "pin = 17", "bounce_s = 0.5", "",
            "[[sensors]]", 'name = "pir"', 'kind = "pir"', "pin = 27", "hold_s = 60.0", "",
            "[buttons]", "break_pin = 5", "meal_pin = 6", "back_pin = 13", "",
            "[feedback]", "green_pin = 23", "red_pin = 24", "buzzer_pin = 25", "",
        ]
    else:
        lines += [
            "# Wiegand 26 reader on D0 = GPIO 14, D1 = GPIO 15." if role == "door" else "# Desk reader on USB serial.",
        ]
        if role == "door":
            lines += ["[[readers]]", 'name = "badge"', 'kind = "wiegand"', "d0_pin = 14", "d1_pin = 15", "bits = 26", "",
                      "# Exit reader for equipment tags leaving the floor (EQUIP-EXIT).",
                      "[[readers]]", 'name = "exit-tags"', 'kind = "line"', 'role = "inventory"',
                      'port = "/dev/floorwatch-tags"', "period_s = 5.0", ""]
        else:
            lines += ["[[readers]]", 'name = "badge"', 'kind = "line"', 'port = "/dev/floorwatch-reader"',
                      'number_format = "decimal"', ""]
        lines += ["[feedback]", "green_pin = 23", "red_pin = 24", "buzzer_pin = 25", ""]
    return "\n".join(lines)


def site_today(tz: str | ZoneInfo, now_ms: int | None = None) -> dt.date:
    """The site's calendar date at `now_ms` (default: now): the floor works by its own zone's
    date, which differs from the host's for hours every day when the host runs on UTC."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    now = dt.datetime.now(dt.UTC) if now_ms is None else dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
    return now.astimezone(zone).date()


def days_around(day: dt.date, before: int = 1, after: int = 6) -> list[dt.date]:
    """`day`, the `before` days before it and the `after` days after it (a demo's roster week)."""
    return [day + dt.timedelta(days=d) for d in range(-before, after + 1)]


def generate_site(
    root: str | Path,
    *,
    site: str = "example",
    name: str = "示例客服中心 Example Contact Center",
    seats: int = 40,
    zones: int = 2,
    doors: int = 2,
    kiosks: int = 1,
    teams: int = 4,
    roster_date: dt.date | None = None,
    roster_dates: Iterable[dt.date] | None = None,
    tz: str = "Asia/Shanghai",
    sim_devices: bool = False,
    broker_port: int = 1883,
    clock_skew_max_s: float = 5,
) -> Path:
    """Write a complete, valid site folder; returns its path.

    Seats are split evenly over zones, laid out in rows of 8 per zone block. The roster rosters
    each seat twice (day and evening shift) with different agents on each of `roster_dates`
    (or the one `roster_date`; by default the site's today, in its zone `tz`, not the host's);
    agents outnumber seats by the second shift, plus two leads per team.
    """
    root = Path(root)
    (root / "devices").mkdir(parents=True, exist_ok=True)
    per_zone = -(-seats // zones)
    cols = 8
    block_w = cols * 60 + 40
    rows_per_zone = -(-per_zone // cols)
    block_h = rows_per_zone * 70 + 60
    zcols = min(zones, 4)
    width = max(zcols * (block_w + 30) + 200, 1200)
    height = max(-(-zones // zcols) * (block_h + 30) + 60, 600)
    text = SITE_TOML_HEAD.format(site=site, name=name, tz=tz, width=width, height=height)
    zone_ids = [chr(ord("A") + z) if zones <= 26 else f"Z{z + 1:02d}" for z in range(zones)]
    for zid in zone_ids:
        text += f'\n[[zones]]\nid = "{zid}"\nname = "{zid} 区 Zone {zid}"\n'
    seat_ids: list[str] = []
    for i in range(seats):
        z = i // per_zone
        k = i % per_zone
        zid = zone_ids[z]
        sid = f"{zid}{k + 1:02d}" if per_zone < 100 else f"{zid}{k + 1:04d}"
        bx = 170 + (z % zcols) * (block_w + 30)
        by = 30 + (z // zcols) * (block_h + 30)
        x = bx + 30 + (k % cols) * 60
        y = by + 40 + (k // cols) * 70
        text += f'\n[[seats]]\nid = "{sid}"\nzone = "{zid}"\nx = {x}\ny = {y}\n'
        seat_ids.append(sid)
    door_ids = []
    for d in range(doors):
        did = f"D{d + 1}"
        kind = "entry" if d == 0 else ("exit" if d == 1 else "both")
        text += f'\n[[doors]]\nid = "{did}"\nname = "{did} 门 Door {d + 1}"\nkind = "{kind}"\nx = 40\ny = {80 + d * 120}\n'
        door_ids.append(did)
    kiosk_ids = []
    for k in range(kiosks):
        kid = f"K{k + 1}"
        text += f'\n[[kiosks]]\nid = "{kid}"\nname = "点名机 Kiosk {k + 1}"\nx = 100\ny = {80 + k * 120}\n'
        kiosk_ids.append(kid)
    (root / "site.toml").write_text(text, encoding="utf-8")
    (root / "rules.toml").write_text(RULES_TOML.format(clock_skew_max_s=clock_skew_max_s), encoding="utf-8")

    # Agents: two per seat (day and evening), plus two leads per team.
    agents = []
    n_agents = seats * 2
    for i in range(n_agents):
        emp = f"{10001 + i}"
        team = f"T{(i % seats) * teams // max(seats, 1) + 1}"
        agents.append([emp, _name(i), team, "agent", card_id(i), "true"])
    for t in range(teams):
        for j in range(2):
            i = n_agents + t * 2 + j
            agents.append([f"{10001 + i}", _name(i), f"T{t + 1}", "lead", card_id(i), "true"])
    (root / "agents.csv").write_text(_csv(agents, ["employee_no", "name", "team", "role", "badges", "active"]), encoding="utf-8")

    equipment = []
    for i, sid in enumerate(seat_ids):
        equipment.append([f"E{0x0B000000 + 2 * i:010X}", "headset", sid])
        equipment.append([f"E{0x0B000000 + 2 * i + 1:010X}", "mouse", sid])
    (root / "equipment.csv").write_text(_csv(equipment, ["tag", "kind", "home_seat"]), encoding="utf-8")
    (root / "prices.csv").write_text(_csv([list(p) for p in PRICES], ["kind", "name", "price"]), encoding="utf-8")

    if roster_dates is not None:
        days = sorted(set(roster_dates))
    else:
        days = [roster_date or site_today(tz)]
    roster = []
    for day in days:
        for i, sid in enumerate(seat_ids):
            meal_day = ["11:00", "11:30", "12:00", "12:30"][i % 4]
            meal_night = ["18:00", "18:30", "19:00", "19:30"][i % 4]
            roster.append([day.isoformat(), agents[i][0], "day", sid, meal_day])
            roster.append([day.isoformat(), agents[seats + i][0], "night", sid, meal_night])
    (root / "roster.csv").write_text(_csv(roster, ["date", "employee_no", "shift", "seat", "meal_start"]), encoding="utf-8")

    for old in (root / "devices").glob("*.toml"):
        old.unlink()
    for sid in seat_ids:
        dev = f"seat-{sid.lower()}"
        (root / "devices" / f"{dev}.toml").write_text(device_toml(site, dev, "seat", sid, sim=sim_devices, broker_port=broker_port), encoding="utf-8")
    for did in door_ids:
        dev = f"door-{did.lower()}"
        (root / "devices" / f"{dev}.toml").write_text(device_toml(site, dev, "door", did, sim=sim_devices, broker_port=broker_port), encoding="utf-8")
    for kid in kiosk_ids:
        dev = f"kiosk-{kid.lower()}"
        (root / "devices" / f"{dev}.toml").write_text(device_toml(site, dev, "kiosk", kid, sim=sim_devices, broker_port=broker_port), encoding="utf-8")
    return root


if __name__ == "__main__":  # regenerate the shipped example: python -m hub.sitegen
    here = Path(__file__).resolve().parent.parent / "firmware_cfg" / "sites" / "example"
    generate_site(here, roster_date=dt.date(2026, 11, 30))
    print(here)
