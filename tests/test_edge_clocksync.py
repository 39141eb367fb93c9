"""The clock-sync reader: the kernel's NTP state (adjtimex) as evidence, cheap and never raising."""

from __future__ import annotations

import sys

import pytest

from edge.clocksync import (
    SIM_SYNCED,
    SIM_UNSYNCED,
    STA_UNSYNC,
    TIME_ERROR,
    UNKNOWN,
    ClockSync,
    KernelClockSync,
    interpret,
    read_adjtimex,
)


def test_this_machine_gives_a_well_formed_answer():
    state = read_adjtimex()
    assert state.synced is None or isinstance(state.synced, bool)
    assert state.error_ms is None or (isinstance(state.error_ms, int) and state.error_ms >= 0)
    if sys.platform.startswith("linux"):
        assert state.source == "adjtimex" and state.synced is not None  # modes = 0 needs no privilege
    if not state.synced:
        assert state.error_ms is None  # an unsynchronised clock has no bound


@pytest.mark.parametrize(
    ("ret", "status", "maxerror_us", "expected"),
    [
        (0, 0x2001, 12_345, ClockSync(True, 13, "adjtimex")),  # TIME_OK, PLL: bound rounded up
        (0, 0x2001, 0, ClockSync(True, 0, "adjtimex")),
        (TIME_ERROR, STA_UNSYNC, 16_000_000, ClockSync(False, None, "adjtimex")),  # set by hand / fake-hwclock
        (0, STA_UNSYNC, 16_000_000, ClockSync(False, None, "adjtimex")),
        (TIME_ERROR, 0, 500, ClockSync(False, None, "adjtimex")),  # STA_CLOCKERR and the like
        (-1, 0, 0, ClockSync(None, None, "adjtimex")),  # the call failed: no evidence
    ],
)
def test_kernel_state_is_interpreted(ret, status, maxerror_us, expected):
    assert interpret(ret, status, maxerror_us) == expected


def test_reads_are_cached_and_failures_are_unknown():
    t = [100.0]
    calls = []

    def read():
        calls.append(t[0])
        if len(calls) == 3:
            raise OSError("sandbox")
        return ClockSync(True, 5, "adjtimex")

    r = KernelClockSync(5.0, read=read, monotonic=lambda: t[0])
    assert r.read() == ClockSync(True, 5, "adjtimex")
    t[0] += 4.9
    r.read()
    assert len(calls) == 1  # per-event reads cost nothing
    t[0] += 0.2
    r.read()
    assert len(calls) == 2
    t[0] += 5
    assert r.read() == UNKNOWN and len(calls) == 3  # never raises into the agent


def test_soak_skews_report_what_a_hand_set_pi_reports():
    """The soak's clock-skew chaos is a clock set wrong with NTP off: unsynchronised until unskewed."""
    from bench.soak_plan import EpochClock
    from bench.soak_worker import UNSET_BASE_MS, DeviceClock, DeviceClockSync

    clock = DeviceClock(EpochClock(wall_epoch_s=0.0, sim_epoch_ms=1_800_000_000_000, speed=1.0))
    sync = DeviceClockSync(clock)
    assert sync.read() == SIM_SYNCED
    for offset in (3_600_000, -7_200_000, UNSET_BASE_MS - clock.now_ms()):  # ahead, behind, back to 1970
        clock.offset = offset
        assert sync.read() == SIM_UNSYNCED
    clock.offset = 0  # unskew: NTP is back
    assert sync.read() == SIM_SYNCED
