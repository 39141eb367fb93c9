"""The floorwatch wire contract, version 1: topics and payloads.

This is the one module both sides import: the edge agent builds messages with it and the hub
validates them with it, so the two cannot drift apart. `docs/protocol.md` describes the same
contract for third-party devices (an ESP32, a vendor reader).

Topics:
  fw/v1/{site}/{device}/event   observations, QoS 1, not retained
  fw/v1/{site}/{device}/status  retained; "online" on connect, "offline" as the last will
  fw/v1/{site}/{device}/cmd     hub -> device: tap feedback, config reload, A/C relay
  fw/v1/{site}/acd              optional contact-center feed: idle-agent count

Validation is strict about types (a string "3" is not an integer) and tolerant of unknown
fields, so a newer device can talk to an older hub.
"""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from msgspec import NODEFAULT, Meta
from msgspec.json import encode as _json_encode

from edge.exceptions import SchemaError, WireError
from edge.schema import Record, field_defaults, whole

SCHEMA_VERSION = 1
TOPIC_ROOT = "fw/v1"
EVENT_QOS = 1

# Device ids and site ids appear in topics and file names: keep them boring.
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_ID_RE = re.compile(ID_PATTERN)
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")

# A device clock before this (2024-01-01 UTC) is a Pi that booted without a time source.
VALID_CLOCK_AFTER_MS = 1_704_067_200_000
# The largest clock error bound a device may report (a day): a clock worse than that is simply
# not synchronised, and a bounded field keeps nonsense out of the hub.
MAX_CLOCK_ERR_MS = 86_400_000

TopicKind = Literal["event", "status", "cmd", "acd", "probe"]
HUB_PROBE = "_hub"  # fw/v1/{site}/_hub/probe: the hub's message to itself (no device id starts with _)


# ---------------------------------------------------------------- topics


def event_topic(site: str, device: str) -> str:
    return f"{TOPIC_ROOT}/{site}/{device}/event"


def status_topic(site: str, device: str) -> str:
    return f"{TOPIC_ROOT}/{site}/{device}/status"


def cmd_topic(site: str, device: str) -> str:
    return f"{TOPIC_ROOT}/{site}/{device}/cmd"


def acd_topic(site: str) -> str:
    return f"{TOPIC_ROOT}/{site}/acd"


def probe_topic(site: str) -> str:
    """The hub publishes here and reads it back: once its own probe arrives, everything the broker
    queued for it before has arrived too (it is caught up)."""
    return f"{TOPIC_ROOT}/{site}/{HUB_PROBE}/probe"


def event_filter(site: str) -> str:
    """Every device's events at `site`."""
    return f"{TOPIC_ROOT}/{site}/+/event"


def shared_event_filter(site: str, group: str) -> str:
    """The site's events through an MQTT shared subscription (`$share/{group}/...`, MQTT 5 and
    mosquitto 2 for 3.1.1 too): the broker gives each message to one session of the group."""
    return f"$share/{group}/{event_filter(site)}"


def hub_subscriptions(site: str, *, events: bool = True, others: bool = True, share: str | None = None) -> list[str]:
    """What a hub for `site` subscribes to: its events (through the shared group `share` when
    ingest workers split them), the devices' statuses and the contact center's counts (`others`),
    and always its probe."""
    subs = []
    if events:
        subs.append(shared_event_filter(site, share) if share else event_filter(site))
    if others:
        subs += [f"{TOPIC_ROOT}/{site}/+/status", acd_topic(site)]
    subs.append(probe_topic(site))
    return subs


@dataclass(frozen=True)
class Topic:
    site: str
    device: str | None
    kind: TopicKind


@functools.lru_cache(maxsize=65536)  # a site has a few thousand topics; ingest parses each message's
def parse_topic(topic: str) -> Topic:
    """Split a floorwatch topic, or raise WireError naming what is wrong with it."""
    parts = topic.split("/")
    if len(parts) < 4 or "/".join(parts[:2]) != TOPIC_ROOT:
        raise WireError("topic", f"not a {TOPIC_ROOT} topic", topic=topic)
    site = parts[2]
    if not _ID_RE.match(site):
        raise WireError("topic", f"bad site id {site!r}", topic=topic)
    if len(parts) == 4 and parts[3] == "acd":
        return Topic(site, None, "acd")
    if len(parts) == 5 and parts[3] == HUB_PROBE and parts[4] == "probe":
        return Topic(site, None, "probe")
    if len(parts) != 5 or parts[4] not in ("event", "status", "cmd"):
        raise WireError("topic", "expected fw/v1/{site}/{device}/event|status|cmd", topic=topic)
    device = parts[3]
    if not _ID_RE.match(device):
        raise WireError("topic", f"bad device id {device!r}", topic=topic)
    return Topic(site, device, parts[4])  # type: ignore[arg-type]


# ---------------------------------------------------------------- payloads


class _Message(Record, kw_only=True, forbid_unknown_fields=False):
    """Unknown fields are kept (`model_extra`): a newer device can talk to an older hub, and the
    hub stores what it was sent."""


DeviceId = Annotated[str, whole(ID_PATTERN)]
EpochMs = Annotated[int, Meta(ge=0)]
ShortText = Annotated[str, Meta(min_length=1, max_length=64)]
# A device's own label (firmware version, config hash): printable, as it is shown and stored as given
Label = Annotated[str, Meta(max_length=128, pattern=r"^[^\x00-\x1f\x7f]*$")]


class _EventBase(_Message, kw_only=True):
    v: Literal[1]
    id: Annotated[str, whole(_UUID_RE.pattern)]
    device: DeviceId
    seq: Annotated[int, Meta(ge=1)]
    ts: EpochMs
    # False when the device knows its clock is not set (booted without NTP or RTC): the hub
    # then orders this device's events by receipt time instead.
    clock_ok: bool = True
    # Evidence for trusting `ts`, as the device saw it when it observed the event (absent or null:
    # no evidence either way, e.g. an older device). clock_sync: the kernel / SNTP client says the
    # clock is synchronised. clock_err_ms: its maximum error bound, meaningful only while synced.
    clock_sync: bool | None = None
    clock_err_ms: Annotated[int, Meta(ge=0, le=MAX_CLOCK_ERR_MS)] | None = None


class BadgeEvent(_EventBase, kw_only=True):
    """A badge (or equipment tag presented like a badge) was tapped on a reader."""

    type: Literal["badge"]
    uid: ShortText
    reader: ShortText
    # Optional extra field `card_bits`: how many low-order bits of the card the reader sees (uid
    # is those bits in hex), e.g. 24 for a Wiegand 26 reader. For devices the site's device files
    # do not describe; when both say, they must agree or the hub attributes the tap to nobody.
    # Kept as an extra (not a declared field) so the stored body of an event without it is unchanged.

    def check(self) -> None:
        bits = self.model_extra.get("card_bits")
        if bits is not None and (not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 64):
            raise ValueError(f"card_bits must be an integer from 1 to 64, not {bits!r}")


class OccupancyEvent(_EventBase, kw_only=True):
    """A seat's debounced occupancy changed."""

    type: Literal["occupancy"]
    occupied: bool
    sensor: ShortText


class InventoryEvent(_EventBase, kw_only=True):
    """The equipment tags a reader sees now (sent each period and on change)."""

    type: Literal["inventory"]
    tags: Annotated[list[ShortText], Meta(max_length=256)]
    reader: ShortText


class ButtonEvent(_EventBase, kw_only=True):
    """A seat button: going on break, going to a meal, or back."""

    type: Literal["button"]
    button: Literal["break", "meal", "back"]


RelayState = Literal["on", "off"]


class HeartbeatEvent(_EventBase, kw_only=True):
    """Proof of life, with the spool backlog and what overflow has dropped (and, on a device
    with an A/C relay, the relay's state, so a missed command shows as a mismatch)."""

    type: Literal["heartbeat"]
    uptime_s: Annotated[int, Meta(ge=0)]
    spooled: Annotated[int, Meta(ge=0)]
    dropped: Annotated[int, Meta(ge=0)] = 0
    relay: RelayState | None = None


class RelayEvent(_EventBase, kw_only=True):
    """A relay output switched (at start-up to its configured state, then on each hub command):
    facilities' record of when the air conditioning was switched, and why."""

    type: Literal["relay"]
    relay: ShortText
    state: RelayState
    reason: Annotated[str, Meta(max_length=64)] = ""


Event = BadgeEvent | OccupancyEvent | InventoryEvent | ButtonEvent | HeartbeatEvent | RelayEvent
EVENT_MODELS: dict[str, type[Event]] = {
    "badge": BadgeEvent, "occupancy": OccupancyEvent, "inventory": InventoryEvent,
    "button": ButtonEvent, "heartbeat": HeartbeatEvent, "relay": RelayEvent,
}
EVENT_TYPES = tuple(EVENT_MODELS)


class Status(_Message, kw_only=True):
    """Retained device status; `offline` is registered as the last will."""

    v: Literal[1]
    device: DeviceId
    state: Literal["online", "offline"]
    ts: EpochMs
    fw: Label = ""
    config: Label = ""


class Command(_Message, kw_only=True):
    """Hub to device: feedback for a tap (`re` is the event id it answers), a config reload, or
    the zone's A/C relay (`state` on/off, `reason` why, `since` when the engine judged it so)."""

    v: Literal[1]
    device: DeviceId
    ts: EpochMs
    cmd: Literal["feedback", "reload", "relay"]
    result: Literal["ok", "warn", "deny"] | None = None
    text: Annotated[str, Meta(max_length=120)] = ""
    re: str | None = None
    state: RelayState | None = None
    reason: Annotated[str, Meta(max_length=64)] = ""
    since: EpochMs | None = None

    def check(self) -> None:
        if self.cmd == "relay" and self.state is None:
            raise ValueError("a relay command needs a state (on or off)")


class AcdFeed(_Message, kw_only=True):
    """The contact center's count of idle agents (AWAY-PEAK)."""

    v: Literal[1]
    ts: EpochMs
    idle: Annotated[int, Meta(ge=0)]


# ---------------------------------------------------------------- encode / decode


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_event_id() -> str:
    return str(uuid.uuid4())


def encode(message: _Message) -> bytes:
    """Compact JSON, extra fields included, None fields left out. The message is validated first
    (building a record does not validate it): what breaks the contract is never sent."""
    data = message.model_dump(exclude_none=True)
    try:
        type(message).validate(data)
    except SchemaError as exc:
        raise WireError(exc.loc or "payload", exc.reason) from None
    return _json_encode(data)


def _load_object(payload: bytes | str, topic: str | None) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError("payload", f"not JSON: {exc}", topic=topic) from None
    if not isinstance(data, dict):
        raise WireError("payload", "not a JSON object", topic=topic)
    return data


def _validate(model: type[_Message], data: dict[str, Any], topic: str | None) -> Any:
    try:
        return model.validate(data)
    except SchemaError as exc:
        raise WireError(exc.loc or "payload", exc.reason, topic=topic) from None


def decode_event(payload: bytes | str, topic: str | None = None) -> Event:
    """Validate an event payload; with `topic`, also check that `device` matches the topic."""
    data = _load_object(payload, topic)
    kind = data.get("type")
    if kind.__class__ is not str or kind not in EVENT_MODELS:
        raise WireError("type", f"unknown event type {kind!r}", topic=topic)
    event = _validate(EVENT_MODELS[kind], data, topic)
    if topic is not None:
        t = parse_topic(topic)
        if t.kind != "event" or t.device != event.device:
            raise WireError("device", f"{event.device!r} does not match the topic", topic=topic)
    return event


def decode_status(payload: bytes | str, topic: str | None = None) -> Status:
    status = _validate(Status, _load_object(payload, topic), topic)
    if topic is not None and parse_topic(topic).device != status.device:
        raise WireError("device", f"{status.device!r} does not match the topic", topic=topic)
    return status


def decode_command(payload: bytes | str, topic: str | None = None) -> Command:
    return _validate(Command, _load_object(payload, topic), topic)


def decode_acd(payload: bytes | str, topic: str | None = None) -> AcdFeed:
    return _validate(AcdFeed, _load_object(payload, topic), topic)


def is_valid_id(value: str) -> bool:
    """A site or device id as topics allow it."""
    return bool(_ID_RE.match(value))


def clock_is_valid(ts_ms: int) -> bool:
    return ts_ms >= VALID_CLOCK_AFTER_MS


# ---------------------------------------------------------------- the hub's fast path for events


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A validated event as the hub stores it: the header columns and the body (every other
    field, declared ones with their defaults, then extras), exactly what decode_event's model
    gives with model_dump(exclude=header)."""

    id: str
    device: str
    seq: int
    ts: int
    type: str
    clock_ok: bool
    body: dict[str, Any]

    @classmethod
    def from_model(cls, e: Any) -> EventRecord:
        return cls(e.id, e.device, e.seq, e.ts, e.type, e.clock_ok, e.model_dump(exclude=set(_HEADER)))


_HEADER = ("v", "id", "device", "seq", "ts", "clock_ok", "type")
_MISSING = object()
_UUID_FULL = re.compile(_UUID_RE.pattern[1:-1])  # fullmatch: Python's $ would accept a trailing \n
_ID_FULL = re.compile(ID_PATTERN[1:-1])


def _is_int(v: Any) -> bool:
    return v.__class__ is int  # not bool, as the strict models


def _short(v: Any) -> bool:
    return v.__class__ is str and 1 <= len(v) <= 64


def _build_fast_path() -> dict[str, tuple[tuple[tuple[str, Any, Callable[[Any], bool]], ...], frozenset[str]]]:
    """Per event type: (body field, default, check) in the model's declared order, taken from
    the models themselves so the two cannot drift apart (a field added to a model without a
    check here fails at import, not silently)."""
    checks: dict[str, Callable[[Any], bool]] = {
        "clock_sync": lambda v: v is None or v.__class__ is bool,
        "clock_err_ms": lambda v: v is None or (_is_int(v) and 0 <= v <= MAX_CLOCK_ERR_MS),
        "uid": _short, "reader": _short, "sensor": _short, "relay": _short,
        "occupied": lambda v: v.__class__ is bool,
        "tags": lambda v: v.__class__ is list and len(v) <= 256 and all(_short(t) for t in v),
        "button": lambda v: v in ("break", "meal", "back") and v.__class__ is str,
        "uptime_s": lambda v: _is_int(v) and v >= 0, "spooled": lambda v: _is_int(v) and v >= 0,
        "dropped": lambda v: _is_int(v) and v >= 0,
        "state": lambda v: v in ("on", "off") and v.__class__ is str,
        "reason": lambda v: v.__class__ is str and len(v) <= 64,
    }
    heartbeat_relay = lambda v: v is None or (v in ("on", "off") and v.__class__ is str)  # noqa: E731
    plans = {}
    for kind, model in EVENT_MODELS.items():
        defaults = field_defaults(model)
        fields = []
        for name, default in defaults.items():
            if name in _HEADER:
                continue
            check = heartbeat_relay if (model is HeartbeatEvent and name == "relay") else checks[name]
            fields.append((name, _MISSING if default is NODEFAULT else default, check))
        plans[kind] = (tuple(fields), frozenset(defaults))
    return plans


_FAST = _build_fast_path()


def _json_loads(payload: bytes | str) -> Any:
    """orjson's loads where it is installed (the hub), else json's: imported on first use, so an
    edge device, which never decodes events at volume, does not carry it."""
    global _json_loads
    try:
        from orjson import loads
    except ImportError:  # pragma: no cover
        loads = json.loads
    _json_loads = loads
    return loads(payload)


def _fast_event(data: dict[str, Any]) -> EventRecord | None:
    """The common valid event, checked field by field as strictly as the models; None whenever
    anything is unusual (the caller then lets the models decide and name the fault)."""
    kind = data.get("type")
    plan = _FAST.get(kind) if kind.__class__ is str else None
    if plan is None:
        return None
    fields, declared = plan
    v, eid, device, seq, ts = data.get("v"), data.get("id"), data.get("device"), data.get("seq"), data.get("ts")
    clock_ok = data.get("clock_ok", True)
    if not (v == 1 and v.__class__ is int and eid.__class__ is str and _UUID_FULL.fullmatch(eid)
            and device.__class__ is str and _ID_FULL.fullmatch(device) and seq.__class__ is int and seq >= 1
            and ts.__class__ is int and ts >= 0 and clock_ok.__class__ is bool):
        return None
    body: dict[str, Any] = {}
    for name, default, check in fields:
        value = data.get(name, default)
        if value is _MISSING or not check(value):
            return None
        body[name] = list(value) if value.__class__ is list else value
    for key, value in data.items():  # extras, in the order received (as the models keep them)
        if key not in declared:
            if value is not None and value.__class__ not in (str, int, bool):
                return None  # floats (orjson reads a huge integer as one), lists, objects: the reference
            body[key] = value
    if kind == "badge":
        bits = body.get("card_bits")
        if bits is not None and (bits.__class__ is not int or not 1 <= bits <= 64):
            return None
    return EventRecord(eid, device, seq, ts, kind, clock_ok, body)


def decode_event_record(payload: bytes | str, topic: str | None = None) -> EventRecord:
    """decode_event for the hub's ingest, several times faster on valid events: orjson parses,
    `_fast_event` accepts what is plainly valid, and everything else goes through decode_event,
    so a rejection is always the reference's (the models'), field and reason (tests/test_fuzz_wire.py
    runs both paths over the same inputs)."""
    try:
        data = _json_loads(payload)
    except ValueError:  # json may still read what orjson refuses (NaN, huge integers, UTF-16): the reference decides
        data = None
    record = _fast_event(data) if data.__class__ is dict else None
    if record is not None and topic is not None:
        try:
            t = parse_topic(topic)
        except WireError:
            record = None
        else:
            if t.kind != "event" or t.device != record.device:
                record = None
    if record is None:
        return EventRecord.from_model(decode_event(payload, topic))
    return record
