"""The joint model: one pass serves tagging and sentiment, and reusing the tagging pass gives
the same answers as encoding each target afresh."""

from __future__ import annotations

import pytest

from opinion.nlp.joint import Window, span_mask, window_for
from opinion.nlp.polarity import Target


def test_short_posts_are_read_whole_long_ones_around_the_target():
    short = "the seat was broken and the crew was lovely"
    assert window_for(Target(short, 4, 8)) == Window(0, len(short), 4, 8)
    long_text = "x " * 2000 + "the seat was broken" + " y" * 2000
    s = long_text.index("seat")
    w = window_for(Target(long_text, s, s + 4))
    assert w.lo == s - 400 and w.hi == s + 4 + 400
    whole = window_for(Target(long_text, 0, len(long_text)))
    assert (whole.lo, whole.hi) == (0, 800)


def test_span_mask_marks_the_overlapping_tokens_or_falls_back_to_all():
    offsets = [(0, 0), (0, 3), (4, 8), (9, 12), (0, 0)]
    assert span_mask(offsets, 4, 8) == [0, 0, 1, 0, 0]
    assert span_mask(offsets, 50, 60) == [0, 1, 1, 1, 0]


def test_reused_tagging_pass_equals_fresh_encoding(engine):
    joint = engine.tagger
    if not hasattr(joint, "forget_states"):
        pytest.skip("the configured model is not the joint embedded model")
    assert engine.polarity is joint
    texts = [
        "Battery is terrible, but the screen is gorgeous.",
        "@united lost my bag again and the agent was rude",
        "The food was fine.",
    ]
    spans = joint.extract(texts)
    targets = [
        Target(t, sp.start, sp.end) for t, found in zip(texts, spans, strict=True) for sp in found
    ]
    targets += [Target(t, 0, len(t)) for t in texts]
    reused = joint.probabilities(targets)
    joint.forget_states()
    fresh = joint.probabilities(targets)
    for a, b in zip(reused, fresh, strict=True):
        assert set(a) == {"negative", "neutral", "positive"}
        for label in a:
            assert a[label] == pytest.approx(b[label], abs=0.03)
