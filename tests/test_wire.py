"""The wire contract: what a third-party device must send, and how the hub says no."""

from __future__ import annotations

import json

import pytest

from edge import wire
from edge.exceptions import WireError

TOPIC = "fw/v1/site1/seat-a01/event"


def event(**over):
    base = {"v": 1, "id": "0b3f5b8e-8a52-4b8e-9d0c-2f1f4a3b5c6d", "device": "seat-a01", "seq": 7,
            "ts": 1795828981886, "type": "badge", "uid": "000A000001", "reader": "badge"}
    base.update(over)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


@pytest.mark.parametrize(
    ("payload", "body"),
    [
        (event(), {"uid": "000A000001"}),
        (event(type="occupancy", uid=..., reader=..., occupied=True, sensor="mat"), {"occupied": True}),
        (event(type="inventory", uid=..., tags=["E1", "E2"]), {"tags": ["E1", "E2"]}),
        (event(type="button", uid=..., reader=..., button="meal"), {"button": "meal"}),
        (event(type="heartbeat", uid=..., reader=..., uptime_s=5, spooled=0), {"spooled": 0, "dropped": 0}),
        (event(firmware_extra="tolerated"), {"uid": "000A000001"}),
        (event(), {"clock_sync": None, "clock_err_ms": None}),  # an older device: no evidence
        (event(clock_sync=True, clock_err_ms=12), {"clock_sync": True, "clock_err_ms": 12}),
        (event(clock_sync=False, clock_err_ms=None), {"clock_sync": False, "clock_err_ms": None}),
        (event(type="heartbeat", uid=..., reader=..., uptime_s=5, spooled=0, clock_sync=True, clock_err_ms=0),
         {"clock_sync": True, "clock_err_ms": 0}),
    ],
)
def test_valid_events_decode(payload, body):
    e = wire.decode_event(payload, TOPIC)
    assert e.seq == 7 and e.device == "seat-a01"
    for k, v in body.items():
        assert getattr(e, k) == v


@pytest.mark.parametrize(
    ("payload", "topic", "field", "reason"),
    [
        ("{", TOPIC, "payload", "not JSON"),
        ("[1]", TOPIC, "payload", "not a JSON object"),
        (event(seq="7"), TOPIC, "seq", "valid integer"),
        (event(seq=0), TOPIC, "seq", "greater than or equal to 1"),
        (event(ts=1.5), TOPIC, "ts", "valid integer"),
        (event(v=2), TOPIC, "v", "Input should be 1"),
        (event(v=True), TOPIC, "v", "Input should be 1"),
        (event(device="seat-a01\n"), TOPIC, "device", "String should match pattern '^[a-z0-9]"),
        (event(id="not-a-uuid"), TOPIC, "id", "pattern"),
        (event(uid=...), TOPIC, "uid", "Field required"),
        (event(type="occupancy", occupied="yes", sensor="mat"), TOPIC, "occupied", "valid boolean"),
        (event(type="button", button="lunch"), TOPIC, "button", "'break', 'meal' or 'back'"),
        (event(type="teleport"), TOPIC, "type", "unknown event type"),
        (event(clock_sync=1), TOPIC, "clock_sync", "valid boolean"),
        (event(clock_sync="true"), TOPIC, "clock_sync", "valid boolean"),
        (event(clock_err_ms=-5), TOPIC, "clock_err_ms", "greater than or equal to 0"),
        (event(clock_err_ms=True), TOPIC, "clock_err_ms", "valid integer"),
        (event(clock_err_ms=2.5), TOPIC, "clock_err_ms", "valid integer"),
        (event(clock_err_ms=wire.MAX_CLOCK_ERR_MS + 1), TOPIC, "clock_err_ms", "less than or equal to"),
        (event(), "fw/v1/site1/seat-a02/event", "device", "does not match"),
        (event(), "fw/v2/site1/seat-a01/event", "topic", "not a fw/v1 topic"),
    ],
)
def test_invalid_events_name_field_and_reason(payload, topic, field, reason):
    with pytest.raises(WireError) as info:
        wire.decode_event(payload, topic)
    assert info.value.field == field
    assert reason in info.value.reason
    assert info.value.topic == topic


def test_round_trip_and_topics():
    e = wire.OccupancyEvent(v=1, id=wire.new_event_id(), device="seat-b02", seq=3, ts=wire.now_ms(),
                            type="occupancy", occupied=False, sensor="pir")
    assert wire.decode_event(wire.encode(e), wire.event_topic("s", "seat-b02")) == e
    assert b"clock_sync" not in wire.encode(e)  # unknown is omitted, as an older device sends it
    synced = e.model_copy(update={"clock_sync": True, "clock_err_ms": 7})
    assert wire.decode_event(wire.encode(synced), wire.event_topic("s", "seat-b02")) == synced
    assert wire.parse_topic("fw/v1/s/seat-b02/status") == wire.Topic("s", "seat-b02", "status")
    assert wire.parse_topic("fw/v1/s/acd") == wire.Topic("s", None, "acd")
    assert wire.hub_subscriptions("s") == ["fw/v1/s/+/event", "fw/v1/s/+/status", "fw/v1/s/acd", "fw/v1/s/_hub/probe"]
    assert wire.parse_topic(wire.probe_topic("s")) == wire.Topic("s", None, "probe")
    with pytest.raises(WireError):
        wire.parse_topic("fw/v1/s/Seat A/event")


def test_encode_refuses_a_message_that_breaks_the_contract():
    """Building a message does not validate it; encoding does, so the agent never spools and the
    hub never sends what the other side would quarantine."""
    long = wire.Command(v=1, device="kiosk-k1", ts=1, cmd="feedback", result="ok", text="x" * 121)
    with pytest.raises(WireError) as info:
        wire.encode(long)
    assert (info.value.field, info.value.reason) == ("text", "String should have at most 120 characters")
    with pytest.raises(WireError, match="payload: Value error, a relay command needs a state"):
        wire.encode(wire.Command(v=1, device="zone-a", ts=1, cmd="relay"))
    tagged = wire.decode_event(event(card_bits=24, firmware="2.1"), TOPIC)
    assert tagged.model_extra == {"card_bits": 24, "firmware": "2.1"}
    assert json.loads(wire.encode(tagged)) == {**json.loads(event(card_bits=24, firmware="2.1")), "clock_ok": True}


def test_status_must_match_topic():
    st = wire.encode(wire.Status(v=1, device="door-d1", state="offline", ts=1))
    assert wire.decode_status(st, "fw/v1/s/door-d1/status").state == "offline"
    with pytest.raises(WireError, match="does not match"):
        wire.decode_status(st, "fw/v1/s/door-d2/status")
