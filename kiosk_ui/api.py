"""JSON API under /api. Parameters are validated; a bad one is a 400 naming it."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from edge import wire
from kiosk_ui import state

bp = Blueprint("api", __name__, url_prefix="/api")


class BadParameter(ValueError):
    def __init__(self, name: str, reason: str) -> None:
        self.name, self.reason = name, reason
        super().__init__(f"{name}: {reason}")


@bp.app_errorhandler(BadParameter)  # the engine's API (kiosk_ui.rules_api) raises it too
def _bad_parameter(exc: BadParameter):
    return jsonify({"error": "bad parameter", "parameter": exc.name, "reason": exc.reason}), 400


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(name, f"not an integer: {raw!r}") from None
    if not lo <= value <= hi:
        raise BadParameter(name, f"must be between {lo} and {hi}")
    return value


def id_arg(name: str) -> str | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not wire.is_valid_id(raw):
        raise BadParameter(name, "not a valid id")
    return raw


@bp.get("/health")
def health():
    """Open to monitoring: counts only, no personal data. 503 while the database does not answer
    (a server down or failing over): the hub keeps what arrives unacknowledged at the broker."""
    st = state.store()
    if not st.ping():
        return jsonify({"status": "database unreachable", "site": state.site().id}), 503
    body = {
        "status": "ok",
        "site": state.site().id,
        "events": st.count_events(),
        "quarantined": st.count_quarantined(),
        "devices": st.device_counts(),
    }
    running = state.hub()
    engine = getattr(running, "engine", None)
    if engine is not None and hasattr(engine, "progress"):
        # seq: inputs judged; pending: stored, not judged yet; lag_s: engine time behind the log
        body["engine"] = engine.progress()
        # several hubs on one database: one runs the engine, the others stand by for its lease
        body["engine"]["role"] = "standby" if getattr(engine, "standby", False) else "engine"
        body["engine"]["restarts"] = getattr(engine, "restarts", 0)  # engine processes that ended and were started again
    return jsonify(body)


@bp.get("/events")
def events():
    """Newest first; filter by device and type."""
    device = id_arg("device")
    etype = request.args.get("type") or None
    if etype is not None and etype not in wire.EVENT_TYPES:
        raise BadParameter("type", f"one of {', '.join(wire.EVENT_TYPES)}")
    limit = int_arg("limit", 100, 1, 5000)
    rows = state.store().recent_events(device=device, type=etype, limit=limit)
    return jsonify([e.to_json() for e in rows])


@bp.get("/quarantine")
def quarantine():
    """What failed validation, newest first, with the reason and how many copies came (hubs,
    redeliveries): the installer's view of a misconfigured or misbehaving device."""
    return jsonify(state.store().quarantined(limit=int_arg("limit", 100, 1, 5000)))
