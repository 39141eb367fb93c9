"""The live floor map facilities watch: `/floor`.

The page gets the layout from the site config (zones, seats at their map positions, doors,
kiosks, and which device stands where) embedded as JSON and draws it as SVG in the browser;
the live stream (with `snapshot=1`) then colours each seat by its state, flags empty zones for
the air conditioning, equipment out of place and devices offline. `/floor/layout.json` serves
the same layout to other tools.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from hub.site import Site
from kiosk_ui import state
from kiosk_ui.pages import page_config, render_page

bp = Blueprint("floor", __name__, url_prefix="/floor")

SEAT_STATES = ("vacant", "signed_in", "occupied_no_badge", "break", "meal", "unattended", "no_data")
ZONE_PAD = 0.75  # zone outline margin around its seats, in seat sizes


def seat_size(site: Site) -> float:
    """The side of a seat's square on the map: most of the closest spacing between seats in one
    row (seats share a row when they share a y), so dense floors do not overlap."""
    rows: dict[float, list[float]] = defaultdict(list)
    for s in site.info.seats:
        rows[round(s.y, 1)].append(s.x)
    gaps = [b - a for xs in rows.values() for a, b in zip(sorted(xs), sorted(xs)[1:], strict=False) if b - a > 0]
    row_ys = sorted(rows)
    gaps += [b - a for a, b in zip(row_ys, row_ys[1:], strict=False) if b - a > 0]
    if not gaps:
        return 40.0
    return max(4.0, min(60.0, 0.8 * min(gaps)))


def build_layout(site: Site) -> dict[str, Any]:
    """The map as JSON: positions from site.toml, devices from devices/*.toml."""
    size = seat_size(site)
    device_at: dict[tuple[str, str], str] = {}
    for dev in site.devices.values():
        if dev.place:
            device_at[(dev.role, dev.place)] = dev.id
    seats = [
        {"id": s.id, "zone": s.zone, "x": s.x, "y": s.y, "device": device_at.get(("seat", s.id))}
        for s in site.info.seats
    ]
    zones = []
    for z in site.info.zones:
        mine = [s for s in site.info.seats if s.zone == z.id]
        box = None
        if mine:
            pad = size * ZONE_PAD
            x0 = min(s.x for s in mine) - size / 2 - pad
            y0 = min(s.y for s in mine) - size / 2 - pad * 1.6  # room for the zone's name
            x1 = max(s.x for s in mine) + size / 2 + pad
            y1 = max(s.y for s in mine) + size / 2 + pad
            box = [round(x0, 1), round(y0, 1), round(x1 - x0, 1), round(y1 - y0, 1)]
        zones.append({"id": z.id, "name": z.name, "seats": len(mine), "box": box})
    xs = [s.x for s in site.info.seats] + [d.x for d in site.info.doors] + [k.x for k in site.info.kiosks]
    ys = [s.y for s in site.info.seats] + [d.y for d in site.info.doors] + [k.y for k in site.info.kiosks]
    width = max([site.info.map.width] + [math.ceil(x + size * 2) for x in xs])
    height = max([site.info.map.height] + [math.ceil(y + size * 2) for y in ys])
    # the first view: what is drawn, not the empty margins of the configured map size
    lefts = [z["box"][0] for z in zones if z["box"]] + [x - size for x in xs]
    tops = [z["box"][1] for z in zones if z["box"]] + [y - size for y in ys]
    rights = [z["box"][0] + z["box"][2] for z in zones if z["box"]] + [x + size for x in xs]
    bottoms = [z["box"][1] + z["box"][3] for z in zones if z["box"]] + [y + size * 1.2 for y in ys]
    view = [0.0, 0.0, width, height]
    if lefts:
        x0, y0 = max(0.0, min(lefts) - size / 2), max(0.0, min(tops) - size / 2)
        view = [round(x0, 1), round(y0, 1), round(max(rights) + size / 2 - x0, 1), round(max(bottoms) + size / 2 - y0, 1)]
    return {
        "width": width,
        "height": height,
        "view": view,
        "seatSize": size,
        "zones": zones,
        "seats": seats,
        "doors": [{"id": d.id, "name": d.name, "kind": d.kind, "x": d.x, "y": d.y,
                   "device": device_at.get(("door", d.id))} for d in site.info.doors],
        "kiosks": [{"id": k.id, "name": k.name, "x": k.x, "y": k.y,
                    "device": device_at.get(("kiosk", k.id))} for k in site.info.kiosks],
        "devices": {d.id: {"role": d.role, "place": d.place} for d in site.devices.values()},
        "kinds": {p.kind: p.name for p in site.prices},  # equipment kind -> its name
    }


def layout() -> dict[str, Any]:
    """Built once per app (the site is loaded once per hub)."""
    ext = current_app.extensions.setdefault("floorwatch.floor", {})
    site = state.site()
    if ext.get("site") is not site:
        ext["layout"] = build_layout(site)
        ext["site"] = site
    return ext["layout"]


def device_rows() -> list[dict[str, Any]]:
    """The hub's device table (state, heartbeat, spool backlog, clock skew, firmware), with the
    events each device sent reusing a stored seq (quarantined: a misbehaving device is seen)."""
    store = state.store()
    reused = store.reused_seq_counts()
    return [{**d, "reused_seq": reused.get(d["device"], 0)} for d in store.devices()]


@bp.get("")
def floor():
    site = state.site()
    config = page_config(layout=layout(), devices=device_rows(), seatStates=list(SEAT_STATES),
                         names={a.employee_no: a.name for a in site.agents})  # "who" on hover
    return render_page("floor.html", site=site, config=config)


@bp.get("/layout.json")
def layout_json():
    return jsonify(layout())


@bp.get("/events")
def seat_events():
    """The last events of the device at `?seat=` (the map's inspector), newest first."""
    seat = request.args.get("seat", "")
    device = next((s["device"] for s in layout()["seats"] if s["id"] == seat), None)
    if device is None:
        return jsonify({"error": "bad parameter", "parameter": "seat", "reason": f"no seat device for {seat[:32]!r}"}), 400
    limit = request.args.get("limit", "8")
    n = int(limit) if limit.isdigit() and 1 <= int(limit) <= 50 else 8
    return jsonify([e.to_json() for e in state.store().recent_events(device=device, limit=n)])
