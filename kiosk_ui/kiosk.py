"""The kiosk page agents tap at: `/kiosk/<device>`, full screen on a 7" 800x480 touchscreen or a
1080p monitor.

Idle it shows the site, a large clock in site time and "请刷工牌 / Please tap your badge". A tap
at this kiosk's reader arrives as a `tap` update on the live stream (filtered to this device)
and shows who, rostered seat and shift, and the verdict with minutes, coloured green, amber or
red, for KIOSK_CLEAR_S seconds (or `?clear=`). A banner says when the hub link, the hub's
broker link or the kiosk's own device is offline; the page reconnects by itself.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request

from kiosk_ui import feed, state
from kiosk_ui.i18n import current_lang, translate
from kiosk_ui.pages import page_config, render_page

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")

CLEAR_RANGE_S = (1, 600)


def _clear_after_s() -> int:
    """`?clear=` if it is a sane number of seconds, else the app's KIOSK_CLEAR_S."""
    default = int(current_app.config.get("KIOSK_CLEAR_S", 8))
    raw = request.args.get("clear", "")
    if raw.isdigit() and CLEAR_RANGE_S[0] <= int(raw) <= CLEAR_RANGE_S[1]:
        return int(raw)
    return default


def device_state(device: str) -> str:
    """"online", "offline" or "unknown" (never heard from): the latest live update about the
    device if the app has seen one, else the hub's device table."""
    update = feed.latest().get("device", device) if state.hub() is not None else None
    if update is not None:
        data = update.data
        if "state" in data:
            return "online" if data["state"] == "online" else "offline"
        if "online" in data:
            return "online" if data["online"] else "offline"
    row = next((r for r in state.store().devices() if r["device"] == device), None)
    if row is None:
        return "unknown"
    return "online" if row.get("state") == "online" else "offline"


@bp.get("/<device>")
def kiosk(device: str):
    site = state.site()
    dev = site.devices.get(device)
    if dev is None:
        abort(404, description=translate(current_lang(), "kiosk.unknown_device", device=device))
    places = {k.id: k.name for k in site.info.kiosks} | {d.id: d.name for d in site.info.doors}
    place = dev.place or ""
    config = page_config(
        device=device,
        place=place,
        placeName=places.get(place, place),
        clearAfterS=_clear_after_s(),
        rollCallLeadMin=site.rules.thresholds.roll_call_lead_min,
        deviceState=device_state(device),
    )
    return render_page("kiosk.html", site=site, place_name=config["placeName"], config=config)
