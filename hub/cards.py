"""A badge is a card, not a string: what the site knows of each card, and which card a tap is.

An EM4100 card holds 40 bits (a customer byte and a 32-bit number). Readers see different parts
of it: an RDM6300 all 40 bits, a desk reader printing the 10-digit decimal or a Wiegand 34 reader
the lower 32, a Wiegand 26 reader the lower 24 (facility, card). The registry stores each card by
the strongest form known of it, and a tap is matched on the bits *that reader* sees, so one card
is one badge at every reader. Matching two cards is ambiguity, never a guess.

Pure: no I/O, no site files. `CardIndex.match` is a dict lookup per known width (O(1) per tap).

Card forms as written in agents.csv, `floorwatch badge replace` and the console:
  0F02A34B7C      10 hex digits: the full 40-bit EM4100 id (what an RDM6300 reads)
  dec:0044256124  the 10-digit decimal printed on the card (lower 32 bits)
  163,19324       facility,card printed on the card (lower 24 bits; quote it in a CSV)
  A34B7C/24       any width: hex value / number of bits (a third-party reader's format)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

EM4100_BITS = 40
MAX_BITS = 64

_HEX40 = re.compile(r"^[0-9A-Fa-f]{10}$")
_DEC = re.compile(r"^dec:(\d{1,10})$", re.IGNORECASE)
_FC = re.compile(r"^(\d{1,3})\s*,\s*(\d{1,5})$")
_ANY = re.compile(r"^([0-9A-Fa-f]{1,16})/(\d{1,2})$")


@dataclass(frozen=True, order=True)
class CardForm:
    """The lower `bits` bits of a card: all that one form (or one reader) tells of it."""

    bits: int
    value: int

    def __post_init__(self) -> None:
        if not 1 <= self.bits <= MAX_BITS:
            raise ValueError(f"{self.bits} bits: a card form has 1 to {MAX_BITS}")
        if self.value < 0 or self.value >> self.bits:
            raise ValueError(f"value {self.value:X} does not fit {self.bits} bits")

    def low(self, bits: int) -> int:
        return self.value & ((1 << bits) - 1)

    def agrees(self, other: CardForm) -> bool:
        """Could be the same card: equal on the bits both know."""
        common = min(self.bits, other.bits)
        return self.low(common) == other.low(common)

    @property
    def text(self) -> str:
        """The canonical written form (see the module docstring)."""
        if self.bits == EM4100_BITS:
            return f"{self.value:010X}"
        if self.bits == 32:
            return f"dec:{self.value:010d}"
        if self.bits == 24:
            return f"{self.value >> 16},{self.value & 0xFFFF}"
        return f"{self.value:X}/{self.bits}"

    def __str__(self) -> str:
        return self.text


def parse_card(text: str) -> CardForm:
    """A card as a person writes it -> CardForm; ValueError saying why it is not one."""
    s = text.strip()
    if _HEX40.match(s):
        return CardForm(EM4100_BITS, int(s, 16))
    if m := _DEC.match(s):
        value = int(m.group(1))
        if value >> 32:
            raise ValueError(f"{s!r}: a printed decimal card number is at most 4294967295")
        return CardForm(32, value)
    if m := _FC.match(s):
        facility, card = int(m.group(1)), int(m.group(2))
        if facility > 255 or card > 0xFFFF:
            raise ValueError(f"{s!r}: facility is 0-255 and card 0-65535")
        return CardForm(24, (facility << 16) | card)
    if m := _ANY.match(s):
        return CardForm(int(m.group(2)), int(m.group(1), 16))
    raise ValueError(
        f"{s!r} is not a card: write 10 hex digits (0F02A34B7C), dec:<10 digits>, facility,card, or hex/bits"
    )


def reading(uid: str, bits: int) -> CardForm:
    """What a reader that sees `bits` bits reported (its uid is hex); ValueError if it cannot be."""
    try:
        value = int(uid, 16)
    except ValueError:
        raise ValueError(f"uid {uid!r} is not hex") from None
    return CardForm(bits, value)


def merge_forms(forms: Iterable[CardForm]) -> list[CardForm]:
    """One agent's forms as cards: a weaker form that agrees with a stronger one is that card
    (a card listed by both its full id and its printed facility,card is one card)."""
    cards: list[CardForm] = []
    for f in sorted(set(forms), key=lambda f: -f.bits):
        if not any(c.bits > f.bits and c.agrees(f) for c in cards):
            cards.append(f)
    return cards


@dataclass(frozen=True)
class Match:
    """Which card a tap is: `status` ok (one card), unknown (none) or ambiguous (several)."""

    status: str
    read: CardForm
    cards: tuple[CardForm, ...] = ()

    @property
    def key(self) -> str:
        """What the engine files the tap under: the card's canonical text when it is one card;
        otherwise the read itself, marked so it can never be taken for a registered card."""
        if self.status == "ok":
            return self.cards[0].text
        if self.status == "ambiguous":
            return f"ambiguous:{self.read.text}"
        return f"unknown:{self.read.text}"


class CardIndex:
    """Registered cards indexed for each reader width: width -> known bits -> low bits -> cards."""

    def __init__(self, cards: Iterable[CardForm]) -> None:
        self.cards = sorted(set(cards))
        self._by_width: dict[int, dict[int, dict[int, list[CardForm]]]] = {}

    def _index(self, width: int) -> dict[int, dict[int, list[CardForm]]]:
        idx = self._by_width.get(width)
        if idx is None:
            idx = {}
            for c in self.cards:
                m = min(width, c.bits)
                idx.setdefault(m, {}).setdefault(c.low(m), []).append(c)
            self._by_width[width] = idx
        return idx

    def match(self, read: CardForm) -> Match:
        found: list[CardForm] = []
        for m, table in self._index(read.bits).items():
            found.extend(table.get(read.low(m), ()))
        if not found:
            return Match("unknown", read)
        return Match("ok" if len(found) == 1 else "ambiguous", read, tuple(found))


@dataclass(frozen=True)
class Clash:
    """Two cards a reader of `width` bits cannot tell apart."""

    a: CardForm
    b: CardForm
    width: int


def clashes(cards: Iterable[CardForm], widths: Iterable[int]) -> list[Clash]:
    """Pairs of distinct cards some reader width cannot tell apart (each pair once, at the
    narrowest width that confuses them)."""
    cards = sorted(set(cards))
    seen: dict[tuple[CardForm, CardForm], Clash] = {}
    for width in sorted(set(widths)):
        idx = CardIndex(cards)._index(width)
        for c in cards:
            for m, table in idx.items():
                if m > min(width, c.bits):
                    continue  # the other card is compared on the bits c has, found from c's side
                for other in table.get(c.low(m), ()):
                    if other != c:
                        pair = (min(c, other), max(c, other))
                        seen.setdefault(pair, Clash(pair[0], pair[1], width))
    return sorted(seen.values(), key=lambda k: (k.width, k.a, k.b))


def seen_uid(card: str, bits: int) -> str:
    """The uid a floorwatch driver reports for `card` when its reader sees `bits` bits (the lower
    bits as 10 hex digits, e.g. a W26 door reads 0F02A34B7C as 0000A34B7C): what the simulator
    and scripted scenarios emit. Bits the registry does not know of the card are read as 0."""
    value = parse_card(card).value & ((1 << bits) - 1)
    return f"{value:010X}"


def reader_width(declared: int | None, stated: object = None) -> int | None:
    """How many bits a reader saw: as its device file `declared` it and the event `stated` it
    (optional `card_bits`); None when neither says or they disagree (the hub never guesses)."""
    if not isinstance(stated, int) or isinstance(stated, bool):
        stated = None
    if declared is not None and stated is not None and stated != declared:
        return None
    return declared if declared is not None else stated


def tap_key(index: CardIndex, uid: str, declared: int | None, stated: object = None) -> str:
    """The card a tap is (Match.key), from the reader's width as its device file `declared` it
    and as the event `stated` it (optional `card_bits`). When neither says, or they disagree, the
    tap is unknown: the hub never guesses how many bits a reader saw."""
    uid = uid.upper()
    bits = reader_width(declared, stated)
    if bits is None:
        if isinstance(stated, int) and not isinstance(stated, bool) and declared is not None:
            return f"unknown:{uid}?{stated}/{declared}bits"
        return f"unknown:{uid}?bits"
    try:
        read = reading(uid, bits)
    except ValueError:
        return f"unknown:{uid}?{bits}bits"
    return index.match(read).key
