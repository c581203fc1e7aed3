"""Taxonomy packs, mapping (override, seed, embedding neighbour, unknown → other), seed-term
spans and their union with the tagger's spans."""

from __future__ import annotations

from pathlib import Path

import pytest

from opinion.config import REPO_ROOT, Settings
from opinion.nlp.engine import union_spans
from opinion.nlp.tagger import Span
from opinion.nlp.taxonomy import (
    OTHER,
    load_taxonomy,
    mapper_for,
    pack_path,
    taxonomy_for,
    term_spotter_for,
)

PACKS = REPO_ROOT / "data" / "taxonomies"


@pytest.fixture(scope="module")
def airline():
    return taxonomy_for(domain="airline")


@pytest.mark.parametrize("pack", ["airline", "restaurant", "consumer_electronics", "generic"])
def test_every_pack_loads_with_version_and_rollups(pack):
    tax = load_taxonomy(PACKS / f"{pack}.yaml")
    assert tax.version and tax.categories
    assert set(tax.rollups) == {"functionality", "reliability", "support"}
    for cat in tax.categories.values():
        assert cat.cx_domain in ("experience", "service", "success")
        assert cat.touchpoint in tax.touchpoints


def test_pack_follows_brand_list_domain(tmp_path: Path):
    assert pack_path(Settings.from_env()).name == "airline.yaml"  # airlines.yaml: domain airline
    brands = tmp_path / "b.yaml"
    brands.write_text("brands:\n  - name: Acme\n    aliases: [acme]\n")
    settings = Settings.from_env(brands_file=brands, data_dir=tmp_path)
    assert pack_path(settings).name == "generic.yaml"


def test_airline_reasons_map_to_distinct_touchpoints(airline):
    reasons = {
        "Cancelled Flightled": "punctuality",
        "delayed": "punctuality",
        "lost luggage": "baggage",
        "on hold": "customer_service",
        "Flight Booking": "booking",
        "flight attendant": "cabin_crew",
        "wifi": "inflight",
        "long line": "check_in",
        "refund": "refunds",
    }
    for term, touchpoint in reasons.items():
        assert airline.category(airline.lookup(term)).touchpoint == touchpoint, term


def test_mapper_override_seed_neighbour_and_other():
    mapper = mapper_for(domain="airline")
    mentions = [
        {"term": "gate agent", "aspect": "gate agent"},  # override
        {"term": "Delays", "aspect": "delay"},  # seed, inflected
        {"term": "delayed flight", "aspect": "delayed flight"},  # seed inside a longer term
        {"term": "pretzel snacks", "aspect": "pretzel snack"},  # embedding neighbour
        {"term": "Flight", "aspect": "flight"},  # override to other
        {"term": "qwzx", "aspect": "qwzx"},  # nothing close: other, never dropped
    ]
    mapper(mentions)
    got = [(m["category"], m["touchpoint"]) for m in mentions]
    assert got[0] == ("agents", "customer_service")
    assert got[1] == ("delays", "punctuality")
    assert got[2] == ("delays", "punctuality")
    assert got[3] == ("food_drink", "inflight")
    assert got[4] == (OTHER, OTHER)
    assert got[5] == (OTHER, OTHER)
    assert all(m["taxonomy_version"].startswith("airline-5") for m in mentions)
    assert all(m["cx_domain"] in ("experience", "service", "success") for m in mentions)


def test_renames_merge_old_categories(airline):
    assert airline.resolve("punctuality") == "delays"
    assert airline.category("luggage").touchpoint == "baggage"


def test_categories_under_touchpoints(airline):
    under = {}
    for cat in airline.categories.values():
        under.setdefault(cat.touchpoint, set()).add(cat.name)
    assert {"seat", "food_drink", "wifi_entertainment", "cleanliness"} <= under["inflight"]
    assert {"lines_security", "kiosks_counters"} <= under["check_in"]
    assert {"website_app", "fares_fees", "changes"} <= under["booking"]
    assert {"delays", "cancellations", "tarmac_diversions"} <= under["punctuality"]
    for term, category in {
        "equipment": "aircraft",  # the aircraft, not baggage
        "3 hours on the tarmac": "tarmac_diversions",
        "still waiting": OTHER,  # waiting is not a delay (phone, bags, lines wait too)
        "waiting": OTHER,
        "wait": OTHER,
        "2 hour delay": "delays",
        "missed my connection": "connections",
        "on hold": "phone_hold",
        "Cancelled Flightled": "cancellations",
        "lost bags": "lost_delayed_bags",
        "the wifi": "wifi_entertainment",
    }.items():
        assert airline.resolve(airline.lookup(term) or "") == category, term
    assert airline.category("no_such_category").name == OTHER


def test_seeds_match_on_lemmas():
    from opinion.nlp.linguistic import aspect_key

    assert aspect_key("delays") == aspect_key("Delayed") == aspect_key("delay") == "delay"
    assert aspect_key("the lost bags") == aspect_key("lost bag")
    assert aspect_key("Flight Attendants") == "flight attendant"


def test_term_spans_whole_words_inflections_and_corpus_quirks():
    spans = term_spotter_for(domain="airline")
    text = (
        "@united Cancelled Flightled again, then delayed 3h. Lost my bag; on hold for 2 hours. "
        "Late Flightr I will DM. #delays http://t.co/delay @delayedguy baggy"
    )
    got = [text[s:e] for s, e in spans(text)]
    assert got == ["Cancelled Flightled", "delayed", "Lost my bag", "on hold", "DM", "delays"]
    assert spans("") == []


def test_union_spans_tagger_wins_on_overlap():
    tagged = [Span(10, 20, 0.9)]
    extra = [(0, 4), (15, 25), (30, 35), (32, 40)]
    out = union_spans(tagged, extra)
    assert [(s.start, s.end) for s in out] == [(0, 4), (10, 20), (30, 35)]
    assert out[1].score == 0.9


def test_bad_pack_is_a_one_line_error(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ncategories:\n  x: {touchpoint: t, cx_domain: nope}\n")
    with pytest.raises(ValueError, match="cx_domain"):
        load_taxonomy(bad)


def test_friction_terms():
    from opinion.nlp.taxonomy import friction_for

    is_friction = friction_for(domain="airline")
    assert is_friction("delayed") and is_friction("on hold") and is_friction("2 hour delay")
    assert is_friction("Cancelled Flightled")
    assert not is_friction("seat") and not is_friction("holder") and not is_friction("crew")
