"""The committed embedded model on clear sentences, and hostile input per item."""

from __future__ import annotations

import pytest

from opinion.nlp.engine import normalise_aspect


def _aspects(result) -> dict[str, str]:
    return {a.term.lower(): a.polarity for a in result.aspects}


def test_clear_sentences_get_right_polarity(engine):
    texts = [
        "The battery life is fantastic and I love it.",
        "The staff was incredibly rude and the food was cold.",
        "Battery is terrible, but the screen is gorgeous.",
    ]
    r1, r2, r3 = engine.analyze(texts)
    assert _aspects(r1).get("battery life") == "positive"
    assert _aspects(r2).get("staff") == "negative"
    assert _aspects(r2).get("food") == "negative"
    a3 = _aspects(r3)
    assert a3.get("battery") == "negative" and a3.get("screen") == "positive"


def test_offsets_point_at_the_term(engine):
    text = "Great flight, but the wifi did not work at all."
    (res,) = engine.analyze([text])
    assert res.aspects, "expected at least one aspect"
    for a in res.aspects:
        assert text[a.start : a.end] == a.term
        assert 0.0 <= a.confidence <= 1.0


def test_post_level_sentiment_without_aspects(engine):
    texts = [
        "@united thank you so much, you are the best!",
        "@united worst airline ever. never again.",
    ]
    targets = [(0, 7), (0, 7)]
    pos, neg = engine.analyze(texts, targets)
    assert pos.sentiment == "positive"
    assert neg.sentiment == "negative"


@pytest.mark.parametrize(
    "text",
    [
        "😀😀😀🔥",
        "x" * 50_000,
        ("the seat was fine. " * 2700)[:50_000],
        b"caf\xe9 \xff\xfe broken bytes".decode("utf-8", errors="replace"),
        "El servicio fue terrible y la comida fría.",
        "\u200b\u202eRTL text with the service\u202c",
        "'; DROP TABLE posts; --",
    ],
)
def test_hostile_text_gets_a_result(engine, text):
    (res,) = engine.analyze([text])
    assert res.error is None
    assert res.sentiment in ("positive", "negative", "neutral")
    for a in res.aspects:
        assert text[a.start : a.end] == a.term


def test_bad_items_fail_alone(engine):
    results = engine.analyze(["", None, 42, "The food was great."])
    assert [r.error for r in results[:3]] == ["empty text", "text is NoneType", "text is int"]
    assert results[3].error is None and results[3].sentiment == "positive"


def test_normalise_aspect():
    assert normalise_aspect("The Seats") == "seat"
    assert normalise_aspect("batteries") == "battery"
    assert normalise_aspect("wifi") == "wifi"
    assert normalise_aspect("customer   service") == "customer service"


def test_friction_terms_are_negative_and_settle_neutral_posts(engine):
    from opinion.nlp.engine import AbsaEngine

    with_friction = AbsaEngine(
        engine.tagger, engine.polarity, extra_spans=None, friction=lambda t: "hold" in t.lower()
    )
    text = "@united on hold for 3 hours and still no answer about my seat"
    (plain,) = engine.analyze([text], [(0, 7)])
    (rich,) = with_friction.analyze([text], [(0, 7)])
    holds = [a for a in rich.aspects if "hold" in a.term.lower()]
    if holds:  # the tagger found the span; the friction rule decides its polarity
        assert all(a.polarity == "negative" for a in holds)
        assert rich.sentiment == "negative"
    assert plain.sentiment in ("negative", "neutral")


def test_settle_post_sentiment_rules():
    from opinion.nlp.engine import AspectResult, PostResult, settle_post_sentiment

    probs = {"negative": 0.25, "neutral": 0.45, "positive": 0.3}
    calm = {"negative": 0.1, "neutral": 0.8, "positive": 0.1}  # the post itself leans nowhere
    neg = AspectResult("delay", 0, 5, "delay", "negative", 0.3)
    pos = AspectResult("crew", 0, 4, "crew", "positive", 0.8)
    weak_pos = AspectResult("crew", 0, 4, "crew", "positive", 0.55)
    for aspects, p, expected in [
        ([neg, pos], probs, "negative"),
        ([pos], probs, "positive"),
        ([weak_pos], probs, "neutral"),
        ([], probs, "neutral"),
        ([neg], calm, "neutral"),
        ([pos], calm, "neutral"),
    ]:
        res = PostResult("neutral", p["neutral"], list(aspects))
        settle_post_sentiment(res, p)
        assert res.sentiment == expected
        assert res.sentiment_confidence == p[expected]
    kept = PostResult("positive", 0.9, [neg])
    settle_post_sentiment(kept, probs)
    assert kept.sentiment == "positive"


def test_negation_before_a_friction_term():
    from opinion.nlp.engine import negated

    text = "there were no delays, not even a wait, but the flight was delayed later"
    assert negated(text, text.index("delays"))
    assert negated(text, text.index("wait"))
    assert not negated(text, text.index("delayed"))


def test_a_post_naming_two_brands_is_read_per_brand(engine):
    """Each brand's post-level sentiment is read about its own mention when the post names
    another brand too (the third item of the post target)."""
    text = "@delta got me home on time and with a smile, unlike @united who lost my bag again"
    delta, united = (0, 6, True), (text.index("@united"), text.index("@united") + 7, True)
    (for_delta,) = engine.analyze([text], [delta])
    (for_united,) = engine.analyze([text], [united])
    assert for_delta.sentiment == "positive"
    assert for_united.sentiment == "negative"
