"""Fuzzing the wire contract (edge.wire): whatever arrives on a topic, the hub's decoders either
return a valid message or raise WireError naming the field and the reason; nothing else escapes.
Valid messages survive encode -> decode unchanged, and a valid message with one field broken is
rejected for that field.

Every event decoded here is decoded twice: by the reference (decode_event, the msgspec models) and by the
hub's fast path (decode_event_record, orjson and hand-written strict checks); both must accept
the same payloads with the same stored record and reject the same ones with the same field and
reason (`decode_both`).
"""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge import wire
from edge.exceptions import WireError
from edge.schema import field_defaults, required_fields
from tests.fuzz_settings import fuzz

FUZZ = fuzz(100)

json_scalars = st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70) | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                           max_leaves=12)
device_ids = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,20}\Z")
short = st.text(min_size=1, max_size=64)
ms = st.integers(0, 4_000_000_000_000)


@st.composite
def events(draw) -> dict:
    """A valid event as a dict (any type)."""
    base = {"v": 1, "id": str(uuid.UUID(int=draw(st.integers(0, (1 << 128) - 1)))), "device": draw(device_ids),
            "seq": draw(st.integers(1, 1 << 62)), "ts": draw(ms), "clock_ok": draw(st.booleans())}
    kind = draw(st.sampled_from(wire.EVENT_TYPES))
    body = {
        "badge": lambda: {"uid": draw(short), "reader": draw(short)},
        "occupancy": lambda: {"occupied": draw(st.booleans()), "sensor": draw(short)},
        "inventory": lambda: {"tags": draw(st.lists(short, max_size=10)), "reader": draw(short)},
        "button": lambda: {"button": draw(st.sampled_from(["break", "meal", "back"]))},
        "heartbeat": lambda: {"uptime_s": draw(st.integers(0, 1 << 40)), "spooled": draw(st.integers(0, 10**6)),
                              "dropped": draw(st.integers(0, 10**6)),
                              "relay": draw(st.sampled_from([None, "on", "off"]))},
        "relay": lambda: {"relay": draw(short), "state": draw(st.sampled_from(["on", "off"])),
                          "reason": draw(st.text(max_size=64))},
    }[kind]()
    return {**base, "type": kind, **body}


def _outcome(decode, payload, topic):
    try:
        result = decode(payload, topic)
    except WireError as exc:
        return ("rejected", exc.field, exc.reason, exc.topic)
    return ("accepted", result if isinstance(result, wire.EventRecord) else wire.EventRecord.from_model(result))


def decode_both(payload, topic=None):
    """The reference's result (or its WireError), after checking the fast path agrees exactly."""
    reference = _outcome(wire.decode_event, payload, topic)
    assert _outcome(wire.decode_event_record, payload, topic) == reference, payload
    return wire.decode_event(payload, topic)


def check_rejection(exc: WireError) -> None:
    assert exc.field and exc.field.strip()
    assert exc.reason and exc.reason.strip()
    assert exc.field in str(exc) and exc.reason in str(exc)


# ---------------------------------------------------------------- arbitrary bytes and JSON


@FUZZ
@given(payload=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_every_decoder_survives_arbitrary_bytes(payload: bytes) -> None:
    for decode in (decode_both, wire.decode_status, wire.decode_command, wire.decode_acd):
        try:
            decode(payload)
        except WireError as exc:
            check_rejection(exc)


@FUZZ
@given(data=json_values)
def test_every_decoder_survives_arbitrary_json(data) -> None:
    payload = json.dumps(data).encode()
    for decode in (decode_both, wire.decode_status, wire.decode_command, wire.decode_acd):
        try:
            decode(payload, None)
        except WireError as exc:
            check_rejection(exc)


@FUZZ
@given(topic=st.text(max_size=80) | st.lists(st.sampled_from(["fw", "v1", "site", "dev", "event", "status", "cmd",
                                                              "acd", "", "+", "#", "Bad"]), max_size=7).map("/".join))
def test_parse_topic_returns_a_topic_or_says_why(topic: str) -> None:
    try:
        t = wire.parse_topic(topic)
    except WireError as exc:
        check_rejection(exc)
        assert exc.topic == topic
    else:
        assert wire.is_valid_id(t.site) and t.kind in ("event", "status", "cmd", "acd")
        assert t.device is None if t.kind == "acd" else wire.is_valid_id(t.device or "")


# ---------------------------------------------------------------- valid messages and single faults


@FUZZ
@given(event=events())
def test_valid_events_roundtrip(event: dict) -> None:
    topic = wire.event_topic("site", event["device"])
    decoded = decode_both(json.dumps(event), topic)
    again = decode_both(wire.encode(decoded), topic)
    assert again == decoded and again.model_dump() == decoded.model_dump()
    dumped = decoded.model_dump()  # what it sent, and the defaults of what it left out
    assert {k: dumped[k] for k in event} == event
    assert all(dumped[k] == default for k, default in field_defaults(type(decoded)).items() if k not in event)


@FUZZ
@given(event=events(), data=st.data())
def test_one_broken_field_is_rejected_for_that_field(event: dict, data) -> None:
    key = data.draw(st.sampled_from(sorted(event)))
    value = data.draw(json_values)
    broken = {**event, key: value}
    try:
        decode_both(json.dumps(broken))
    except WireError as exc:
        check_rejection(exc)
        # the error names the field that was broken (or the type, when the type itself is wrong)
        assert exc.field.split(".")[0] in (key, "type"), (key, exc.field, exc.reason)
    else:  # the new value happened to be valid for that field
        assert decode_both(json.dumps(broken)).model_dump()[key] == value


@FUZZ
@given(event=events(), data=st.data())
def test_a_missing_field_is_named(event: dict, data) -> None:
    required = required_fields(type(decode_both(json.dumps(event))))  # the contract says what is required
    key = data.draw(st.sampled_from(sorted(k for k in event if k in required)))
    broken = {k: v for k, v in event.items() if k != key}
    try:
        decode_both(json.dumps(broken))
    except WireError as exc:
        check_rejection(exc)
        assert exc.field.split(".")[0] in (key, "type")
    else:
        raise AssertionError(f"an event without {key!r} was accepted")


@FUZZ
@given(event=events(), other=device_ids)
def test_an_event_on_another_devices_topic_is_rejected(event: dict, other: str) -> None:
    topic = wire.event_topic("site", other)
    try:
        decode_both(json.dumps(event), topic)
    except WireError as exc:
        check_rejection(exc)
        assert other != event["device"] and exc.field == "device"
    else:
        assert other == event["device"]


@FUZZ
@given(device=device_ids, state=st.sampled_from(["online", "offline"]), ts=ms,
       fw=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=20),
       key=st.sampled_from(["v", "device", "state", "ts", "fw", "config"]), value=json_values)
def test_status_valid_or_rejected_for_the_broken_field(device: str, state: str, ts: int, fw: str, key: str,
                                                       value) -> None:
    status = {"v": 1, "device": device, "state": state, "ts": ts, "fw": fw, "config": ""}
    topic = wire.status_topic("site", device)
    assert wire.decode_status(json.dumps(status), topic).model_dump() == status
    for control in ("\x00", "\x1f", "\x7f"):  # a label is shown and stored as given: printable only
        with pytest.raises(WireError) as exc:
            wire.decode_status(json.dumps({**status, "fw": fw + control}), topic)
        assert exc.value.field == "fw"
    try:
        wire.decode_status(json.dumps({**status, key: value}), topic)
    except WireError as exc:
        check_rejection(exc)
        assert exc.field.split(".")[0] == key


@FUZZ
@given(device=device_ids, ts=ms, result=st.sampled_from(["ok", "warn", "deny", None]), text=st.text(max_size=200),
       idle=st.integers(-5, 1 << 40))
def test_command_and_acd_validate_their_limits(device: str, ts: int, result, text: str, idle: int) -> None:
    cmd = {"v": 1, "device": device, "ts": ts, "cmd": "feedback", "result": result, "text": text}
    try:
        decoded = wire.decode_command(json.dumps(cmd))
    except WireError as exc:
        check_rejection(exc)
        assert exc.field == "text" and len(text) > 120
    else:
        assert len(decoded.text) <= 120
    try:
        feed = wire.decode_acd(json.dumps({"v": 1, "ts": ts, "idle": idle}))
    except WireError as exc:
        check_rejection(exc)
        assert exc.field == "idle" and idle < 0
    else:
        assert feed.idle == idle >= 0


@FUZZ
@given(event=events(), extras=st.dictionaries(st.text(max_size=12), json_values, max_size=4),
       optional=st.fixed_dictionaries({}, optional={
           "clock_sync": st.none() | st.booleans() | st.integers(0, 1),
           "clock_err_ms": st.none() | st.integers(-2, wire.MAX_CLOCK_ERR_MS + 2) | st.booleans() | st.floats(0, 10),
           "card_bits": st.none() | st.integers(-1, 66) | st.booleans() | st.text(max_size=2),
           "v": st.sampled_from([1, 1.0, True, "1", 2]), "seq": st.sampled_from([0, 1, 1.0, True, -1, 1 << 64]),
           "id": st.sampled_from(["0" * 32, "0" * 32 + "\n", "G" * 32, str(uuid.uuid4()).upper()]),
           "device": st.sampled_from(["a\n", "a", "A", "-a", "a" * 63, "a" * 64]),
       }), drop=st.sets(st.sampled_from(["clock_ok", "dropped", "relay", "reason"])))
def test_the_fast_path_agrees_on_extras_and_edge_values(event: dict, extras: dict, optional: dict, drop: set) -> None:
    """Where the fast path accepts on its own (extras, defaults, boundary values), it must store
    exactly what the reference stores; where it declines, the reference's verdict stands."""
    payload = {k: v for k, v in {**extras, **event, **optional}.items() if k not in drop}
    for text in (json.dumps(payload), json.dumps(payload).encode("utf-16"), json.dumps(payload) + "\n"):
        try:
            decode_both(text, wire.event_topic("site", str(payload.get("device"))) if wire.is_valid_id(str(payload.get("device"))) else None)
        except WireError as exc:
            check_rejection(exc)
