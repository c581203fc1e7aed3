"""Spam scoring: promotion flagged, angry customers not."""

import pytest

from opinion.clean import spam_signals


@pytest.mark.parametrize(
    "text",
    [
        "@united my flight was delayed 4 hours and the gate agents were rude. Worst ever!!!",
        "@UNITED YOU LOST MY BAG AGAIN!!!!!!!!!! THIS IS SOOOOOO UNACCEPTABLE",
        "@SouthwestAir follow back so I can DM you my confirmation number",
        "@JetBlue my promo code expired before I could use it, can you help?",
        "@AmericanAir #fail #delayed at DFW for 3 hours http://t.co/abc",
        "",
        "'; DROP TABLE posts; --",
    ],
)
def test_complaints_are_not_spam(text):
    score, _ = spam_signals(text)
    assert score < 0.5


def test_promotion_is_spam_with_reasons():
    score, reasons = spam_signals(
        "Follow back! Free followers, DM for promo http://a.co/x http://b.co/y "
        "#f4f #follow #rt #win #free"
    )
    assert score >= 0.8
    assert {"promo_phrases", "many_urls", "many_hashtags"} <= set(reasons)
    assert spam_signals("Get free followers now! DM for promo")[0] >= 0.5


def test_reasons_named():
    assert "repeated_chars" in spam_signals("sooooooo good")[1]
    assert "all_caps" in spam_signals("THIS IS THE BEST DEAL IN THE WORLD")[1]
    assert spam_signals("@united thanks")[1] == []


def test_score_bounded_on_one_megabyte():
    chunk = "FREE FOLLOWERS click here http://x.co #a #b #c #d #e @a @b @c @d @e !!!!!!!! "
    text = (chunk * 14_000)[:1_000_000]
    score, _ = spam_signals(text)
    assert 0.0 <= score <= 1.0
