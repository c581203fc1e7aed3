"""The spaCy layer: lemma keys and canonical aspects, seed terms matched on lemmas, negation
scope from the dependency parse, sentences of long posts."""

from __future__ import annotations

import pytest

from opinion.nlp.engine import negated, normalise_aspect
from opinion.nlp.linguistic import Linguistic, aspect_key, canonical_aspect


@pytest.fixture(scope="module")
def layer():
    return Linguistic(["delay", "on hold", "check-in", "lost bag", "bag"], ["delay", "on hold"])


def test_one_aspect_per_lemma():
    assert {canonical_aspect(t) for t in ("delay", "delays", "Delayed", "the delays")} == {"delay"}
    assert normalise_aspect("The Seats") == "seat"
    assert normalise_aspect("flight attendants") == "flight attendant"
    assert normalise_aspect("check-in") == normalise_aspect("checking in") == "check in"
    assert canonical_aspect("missed connections") == canonical_aspect("miss connection")
    assert aspect_key("lost bags") == aspect_key("lost bag") == "lose bag"


def test_seed_spans_on_lemmas_outside_handles_and_urls(layer):
    text = "@delayed Delays again, lost bags and on hold. http://t.co/delay #checkin check-in"
    got = [text[s:e] for s, e in layer.seed_spans(text)]
    assert got == ["Delays", "lost bags", "on hold", "check-in"]
    assert layer("") == []


def test_friction_on_lemmas(layer):
    assert layer.is_friction("2 hour delays") and layer.is_friction("On hold")
    assert not layer.is_friction("holder") and not layer.is_friction("seat")


@pytest.mark.parametrize(
    ("text", "term", "expected"),
    [
        ("there were no delays today", "delays", True),
        ("Flight wasn't delayed at all", "delayed", True),
        ("I have never been on hold this long", "on hold", True),
        ("made it without any delay", "delay", True),
        ("no one answered and my flight is delayed", "delayed", False),
        ("not happy: the flight was delayed again", "delayed", False),
        ("the flight was delayed 3 hours", "delayed", False),
    ],
)
def test_negation_scope_from_the_parse(text, term, expected):
    start = text.index(term)
    assert negated(text, start, start + len(term)) is expected


def test_lookup_lemmas_never_change_the_word():
    """A lookup table has no part of speech: "crew" must not become "crow" (a demo aspect)."""
    from opinion.nlp.linguistic import lemma

    assert [lemma(w) for w in ("crew", "Crew", "delayed", "bags", "cancelled", "seating")] == [
        "crew",
        "crew",
        "delay",
        "bag",
        "cancel",
        "seat",
    ]
