"""Where the redactor spends its work (issue #25): NER only in windows around a possible name,
Presidio only where a recognizer can match, and no PII missed because of either gate."""

import pytest

from opinion.clean.name_windows import REACH, WHOLE, name_windows
from opinion.clean.privacy import Redactor

KEEP_HANDLES = ["united", "VirginAmerica"]
KEEP_WORDS = ["United", "Virgin America"]
FILLER = "the seat was fine and the crew was kind but the wifi kept dropping all the way. "


def _redactor() -> Redactor:
    return Redactor(KEEP_HANDLES, KEEP_WORDS)


def test_a_name_deep_inside_a_long_review_is_redacted_and_ner_reads_only_its_window():
    text = FILLER * 10 + "Our steward Bartholomew Quist was great. " + FILLER * 10
    assert WHOLE < len(text) < 2_000  # one piece, longer than what NER reads whole
    redactor = _redactor()
    (out,) = redactor.redact_many([text])
    assert "Bartholomew" not in out and "Quist" not in out and "[person]" in out
    assert out.startswith(FILLER * 10) and out.endswith(FILLER * 10)
    assert redactor.stats["ner_windows"] == 1
    assert redactor.stats["ner_chars"] <= 2 * REACH + 60 < len(text) / 3


def test_two_distant_names_get_two_windows_and_both_go():
    text = "Jennifer Okonkwo helped. " + FILLER * 16 + "Later Bartholomew Quist did too."
    redactor = _redactor()
    (out,) = redactor.redact_many([text])
    assert "Okonkwo" not in out and "Quist" not in out
    assert redactor.stats["ner_windows"] == 2


@pytest.mark.parametrize(
    "text",
    [
        "@united the flight was late and the crew was rude. again.",
        "@VirginAmerica Virgin America lost my bag at 3pm, gate 12",
        "Customer Service was rude and Flight Attendants too",
        "2015-02-24 11:14:33 -0800",
        "Eastern Time (US & Canada)",
    ],
)
def test_text_with_nothing_to_find_never_reaches_presidio_or_ner(text):
    redactor = _redactor()
    assert redactor.redact_many([text]) == [text]
    assert redactor.stats == {"analyzed": 0, "ner_windows": 0, "ner_chars": 0}


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("write to bob.smith@example.com please", "bob.smith@example.com"),
        ("call me on +44 20 7946 0958 today", "7946 0958"),
        ("card 4111 1111 1111 1111 was charged twice", "4111 1111 1111 1111"),
        ("see https://example.com/trip?token=abc123 for the booking", "token=abc123"),
        ("my IBAN is DE89 3704 0044 0532 0130 00", "DE89 3704"),
        ("server 192.168.10.24 went down", "192.168.10.24"),
        ("thanks to Rose Baker at the desk", "Rose Baker"),
    ],
)
def test_text_with_pii_reaches_presidio_and_loses_it(text, gone):
    redactor = _redactor()
    (out,) = redactor.redact_many([text])
    assert gone not in out
    assert redactor.stats["analyzed"] == 1


def test_name_windows_skip_brand_and_common_word_pairs():
    keep = frozenset({"virgin", "america", "united"})
    assert name_windows("Virgin America and United Airlines lost it", keep) == []
    assert name_windows("Thank You for the Customer Service", keep) == []
    assert name_windows("Great Rose Baker helped", keep) == [(0, 23)]  # overlapping pairs
    assert name_windows("#DestinationDragons Scavenger Hunt", keep) == []
    assert name_windows("Flight UA1234 Gate C4", keep) == []
    # a common word that is no first name nor a title, then no first name: a phrase
    assert name_windows("Cancelled Flightled again", keep) == []
    assert name_windows("call back Late Flightr", keep) == []
    assert name_windows("Thanks Jeff Smisek", keep) == [(0, 18)]
    # ... but a title or a first name keeps the pair: these are people
    assert name_windows("I'm Lady Gaga", keep) == [(0, 13)]
    assert name_windows("Pls Help Baby Hannah", keep) == [(0, 20)]


def test_name_windows_in_long_text_are_merged_and_cut_at_whitespace():
    text = FILLER * 3 + "Anna Kowalska and Jan Nowak" + FILLER * 3
    ((start, end),) = name_windows(text, frozenset())
    assert start <= text.index("Anna") - REACH + 20 and end >= text.index("Nowak") + REACH - 20
    assert (start == 0 or text[start - 1].isspace()) and (end == len(text) or text[end].isspace())
    assert end - start < len(text)


def test_payload_author_keys_are_batched_with_the_other_strings():
    from opinion.clean.payload import payload_strings

    strings = payload_strings({"name": "bob", "user": {"name": "x", "bio": "hi"}, "n": 3}, [])
    assert strings == ["name", "user", "name", "bio", "hi", "n"]
