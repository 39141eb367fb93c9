"""hub.cards: card forms, matching by the bits a reader sees, and clashes."""

from __future__ import annotations

import pytest

from hub.cards import CardForm, CardIndex, clashes, merge_forms, parse_card, reading, seen_uid

CARD = "0F02A34B7C"  # customer byte 0x0F, number 0x02A34B7C = 44256124, facility 163, card 19324


def test_every_printed_form_of_one_card_parses_to_its_bits():
    assert parse_card(CARD) == CardForm(40, 0x0F02A34B7C)
    assert parse_card("0f02a34b7c").text == CARD
    assert parse_card("dec:0044256124") == CardForm(32, 0x02A34B7C)
    assert parse_card("163,19324") == CardForm(24, 0xA34B7C)
    assert parse_card("A34B7C/24") == parse_card("163, 19324")
    assert [parse_card(t).text for t in (CARD, "DEC:44256124", "163,19324", "1FFFF/17")] == [
        CARD, "dec:0044256124", "163,19324", "1FFFF/17"]


@pytest.mark.parametrize("text", ["NEWCARD01", "0044256124x", "dec:4294967296", "256,1", "1,65536", "FF/7", "", "1/65"])
def test_what_is_not_a_card_is_refused_with_the_reason(text):
    with pytest.raises(ValueError):
        parse_card(text)


def test_a_tap_matches_on_the_bits_its_reader_sees():
    idx = CardIndex([parse_card(CARD), parse_card("1E00123456")])
    rdm, desk, w26 = reading(CARD, 40), reading("0002A34B7C", 32), reading("0000A34B7C", 24)
    assert [idx.match(r).key for r in (rdm, desk, w26)] == [CARD, CARD, CARD]
    assert idx.match(reading("0E02A34B7C", 40)).status == "unknown"  # another customer byte
    assert idx.match(reading("0000A34B7D", 24)).key == "unknown:163,19325"
    with pytest.raises(ValueError):
        reading(CARD, 24)  # a W26 reader cannot report 40 bits


def test_a_card_known_by_its_printed_number_matches_every_reader_on_what_is_known():
    idx = CardIndex([parse_card("163,19324")])
    assert idx.match(reading(CARD, 40)).status == "ok"
    assert idx.match(reading("0002A34B7C", 32)).status == "ok"
    assert idx.match(reading("0000A34B7D", 24)).status == "unknown"


def test_two_cards_a_reader_cannot_tell_apart_are_ambiguous_there_only():
    a, b = parse_card(CARD), parse_card("2201A34B7C")  # equal lower 24 bits only
    idx = CardIndex([a, b])
    assert idx.match(reading("0000A34B7C", 24)).status == "ambiguous"
    assert idx.match(reading("0000A34B7C", 24)).key == "ambiguous:163,19324"
    assert idx.match(reading("0002A34B7C", 32)).key == CARD
    assert clashes([a, b], [40, 32]) == []
    [k] = clashes([a, b], [40, 32, 24])
    assert (k.width, {k.a, k.b}) == (24, {a, b})
    assert clashes([a, parse_card("dec:0044256124")], [40]) != []  # known bits agree: cannot tell


def test_one_agents_forms_of_one_card_are_one_card():
    assert merge_forms([parse_card("163,19324"), parse_card(CARD), parse_card("dec:0044256124")]) == [parse_card(CARD)]
    assert len(merge_forms([parse_card(CARD), parse_card("1,2")])) == 2


def test_seen_uid_is_what_the_drivers_report():
    assert [seen_uid(CARD, b) for b in (40, 32, 24)] == [CARD, "0002A34B7C", "0000A34B7C"]
