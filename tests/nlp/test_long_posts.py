"""Long posts are read sentence by sentence: one encoder pass per sentence, each aspect's
sentiment read in its own sentence, the post's sentiment weighed over its sentences."""

from __future__ import annotations

from opinion.nlp.engine import LONG_POST_CHARS, segments_of
from opinion.nlp.sentences import merge_short, sentence_spans

REVIEW = (
    "We flew London to New York in business class last week and I want to share how it went. "
    "The seat was wide, the bed was flat and I slept for most of the flight without trouble. "
    "The cabin crew were warm and attentive, they checked on us often and were very kind. "
    "Dinner was excellent, the lamb was tender and the wine list was better than expected. "
    "Boarding at Heathrow was a little slow, but the lounge made up for it completely. "
    "Overall a wonderful trip, and I would happily fly with this airline again next year."
)


def test_sentences_cover_the_text_and_join_fragments():
    text = "Great. The seat was awful and the food cold! Staff were lovely, kind to my kids. Ok."
    (spans,) = sentence_spans([text])
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert all(len(text[s:e].strip()) >= 20 for s, e in spans)  # "Great." and "Ok." joined
    assert merge_short([(0, 3)], "abc") == [(0, 3)]


def test_short_posts_are_one_segment_long_ones_one_per_sentence():
    assert segments_of("@united thanks", [(0, 7), (7, 14)]) == [(0, 14)]
    (spans,) = sentence_spans([REVIEW])
    assert len(REVIEW) > LONG_POST_CHARS and len(spans) == 6
    assert segments_of(REVIEW, spans) == spans


def test_a_long_review_is_encoded_once_per_sentence(engine):
    (res,) = engine.analyze([REVIEW])
    (spans,) = sentence_spans([REVIEW])
    kept = getattr(engine.tagger, "_states", None)
    if kept is not None:  # the joint model keeps the states of the rows it just encoded
        assert {REVIEW[s:e] for s, e in spans} <= set(kept)
        assert REVIEW not in kept  # never the whole review in one window per aspect
    for a in res.aspects:
        assert REVIEW[a.start : a.end] == a.term
    assert res.sentiment == "positive"
    assert {a.polarity for a in res.aspects if a.aspect in ("seat", "cabin crew")} <= {"positive"}


def test_one_complaint_does_not_decide_a_long_review(engine):
    text = REVIEW.replace(
        "Boarding at Heathrow was a little slow, but the lounge made up for it completely.",
        "The entertainment screen was broken and nobody could fix it during the flight.",
    )
    (res,) = engine.analyze([text])
    screen = [a for a in res.aspects if "screen" in a.term.lower()]
    assert screen and screen[0].polarity == "negative"
    assert res.sentiment == "positive"
