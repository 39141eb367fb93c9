"""Coverage-guided fuzzing of floorwatch's decoders and validators with atheris (libFuzzer).

    pip install atheris
    python bench/fuzz_atheris.py TARGET [libFuzzer options]
    python bench/fuzz_atheris.py wire -max_total_time=600 -jobs=2 var/fuzz-corpus/wire

TARGET is one of: rdm6300, line, wiegand, ld2410, wire, config, site-csv, roster, all. Each target
feeds the fuzzer's bytes to the code that reads them from the outside world and accepts only the
documented outcomes: a decoded value, or the module's own error type with a reason (DecodeError,
ValueError from a reader's line parser, WireError with field and reason, ConfigError with file,
key and reason). Anything else escaping is a crash: libFuzzer stops and writes the input to
crash-<hash> for `pytest`-style reproduction (`python bench/fuzz_atheris.py TARGET crash-<hash>`).
docs/fuzzing.md describes the runs and what they found. The hypothesis properties in
tests/test_fuzz_*.py cover the same code in the normal suite.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import atheris  # noqa: E402

with atheris.instrument_imports():
    from edge import wire
    from edge.config import load_device_config, parse_device_config
    from edge.drivers.ld2410 import Ld2410Decoder
    from edge.drivers.line_reader import LineDecoder
    from edge.drivers.rdm6300 import Rdm6300Decoder
    from edge.drivers.wiegand import WiegandDecoder, decode_frame
    from edge.exceptions import ConfigError, DecodeError, WireError
    from hub.site import Agent, Equipment, RosterEntry, read_csv_rows

PATTERNS = [None, r"ID:(?P<uid>[0-9A-F]+)", r"(?P<facility>\d{1,3}),(?P<card>\d{1,5})", r"card=(\d+)", r"(a)?b"]
TMP = Path(tempfile.mkdtemp(prefix="fw-atheris-"))


def chunks(fdp: atheris.FuzzedDataProvider) -> list[bytes]:
    """The rest of the input as a reader delivers it: in pieces of arbitrary size."""
    out = []
    while fdp.remaining_bytes():
        out.append(fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 64)))
    return out


def fuzz_rdm6300(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    d = Rdm6300Decoder(hold_off_s=fdp.ConsumeFloatInRange(0, 3))
    for i, c in enumerate(chunks(fdp)):
        for uid in d.feed(c, i * 0.01):
            assert len(uid) == 10 and uid == uid.upper(), uid


def fuzz_line(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    pattern = PATTERNS[fdp.ConsumeIntInRange(0, len(PATTERNS) - 1)]
    d = LineDecoder(pattern, "decimal" if fdp.ConsumeBool() else "hex", hold_off_s=0)
    try:
        d.parse_line(fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 80)))
    except ValueError as exc:
        assert str(exc), "a rejected line without a reason"
    for i, c in enumerate(chunks(fdp)):
        d.feed(c, float(i))
    assert all(reason for _, reason in d.rejected)
    assert d.stats["lines"] == d.stats["taps"] + d.stats["bad_lines"]


def fuzz_wiegand(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    bits = [b & 1 for b in fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 70))]
    try:
        decode_frame(bits)
    except DecodeError as exc:
        assert str(exc)
    d = WiegandDecoder(fdp.PickValueInList([None, 26, 34]), hold_off_s=0)
    t = 0.0
    while fdp.remaining_bytes() >= 2:
        t += fdp.ConsumeIntInRange(0, 255) / 2000  # 0 to 127 ms between edges
        d.edge(fdp.ConsumeIntInRange(0, 1), t)
    d.poll(t + 1)
    assert not d.pending


def fuzz_ld2410(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    d = Ld2410Decoder()
    n = 0
    for c in chunks(fdp):
        n += len(d.feed(c))
    assert d.stats["frames"] == n and d.buffered <= 74


def fuzz_wire(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    topic = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 60)) if fdp.ConsumeBool() else None
    payload = fdp.ConsumeBytes(fdp.remaining_bytes())
    for decode in (wire.decode_event, wire.decode_status, wire.decode_command, wire.decode_acd):
        try:
            decode(payload, topic)
        except WireError as exc:
            assert exc.field and exc.reason, (exc.field, exc.reason)
    if topic is not None:
        try:
            wire.parse_topic(topic)
        except WireError as exc:
            assert exc.field and exc.reason


def fuzz_config(data: bytes) -> None:
    path = TMP / "device.toml"
    path.write_bytes(data)
    try:
        load_device_config(path)
    except ConfigError as exc:
        assert exc.path and exc.key and exc.reason
    import tomllib  # noqa: PLC0415

    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return
    try:
        parse_device_config(doc, "device.toml")
    except ConfigError as exc:
        assert exc.key and exc.reason


def fuzz_site_csv(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    for model in (Agent, Equipment, RosterEntry):
        errors: list[ConfigError] = []
        read_csv_rows("file.csv", model, errors, text=text)
        assert all(e.key and e.reason for e in errors)


_SITE = None


def fuzz_roster(data: bytes) -> None:
    global _SITE
    from hub.roster.changes import check_roster  # noqa: PLC0415

    if _SITE is None:
        import datetime as dt  # noqa: PLC0415

        from hub.site import load_site  # noqa: PLC0415
        from hub.sitegen import generate_site  # noqa: PLC0415

        _SITE = load_site(generate_site(TMP / "site", site="fuzz", seats=6, zones=2, roster_date=dt.date(2026, 3, 2),
                                        sim_devices=True))
    rows, errors = check_roster(_SITE, "roster.csv", text=data.decode("utf-8", "replace"))
    assert all(e.key and e.reason for e in errors)


TARGETS = {"rdm6300": fuzz_rdm6300, "line": fuzz_line, "wiegand": fuzz_wiegand, "ld2410": fuzz_ld2410,
           "wire": fuzz_wire, "config": fuzz_config, "site-csv": fuzz_site_csv, "roster": fuzz_roster}


def fuzz_all(data: bytes) -> None:
    if not data:
        return
    names = sorted(TARGETS)
    TARGETS[names[data[0] % len(names)]](data[1:])


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in (*TARGETS, "all"):
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join([*TARGETS, 'all'])}}} [libFuzzer options] [corpus dirs]")
    target = fuzz_all if sys.argv[1] == "all" else TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
