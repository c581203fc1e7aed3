"""Language id on tweet-like text."""

import pytest

from opinion.clean import detect_language


@pytest.mark.parametrize(
    "text",
    [
        "@united thanks for the great flight!",
        "@united worst airline ever",
        "@SouthwestAir my bag never made it to Denver, what do I do now?",
        "RT @bob: @JetBlue the crew on flight 123 was amazing http://t.co/abc #happy",
        "@united no apology? Cool.",
    ],
)
def test_english_tweets(text):
    assert detect_language(text) == "en"


def test_spanish_and_french():
    assert detect_language("@united vuelo cancelado otra vez, qué desastre de servicio") == "es"
    assert detect_language("mi vuelo fue cancelado otra vez y nadie me ayuda") == "es"
    assert detect_language("@airfrance mon vol a été annulé, c'est inadmissible !") == "fr"


def test_other_scripts():
    assert detect_language("Ich bin sehr enttäuscht von diesem Flug") == "de"
    assert detect_language("Мой рейс снова отменили, ужасный сервис") == "ru"
    assert detect_language("東京から大阪への便が遅れました") == "ja"


@pytest.mark.parametrize(
    "text",
    ["", "   ", "@united thanks", "😀😀😀", "@united http://t.co/x #fail #delay", "12345 678"],
)
def test_too_little_language_is_undetermined(text):
    assert detect_language(text) == "und"


def test_sql_and_garbage_do_not_raise():
    assert detect_language("'; DROP TABLE posts; --") == "und"
    assert detect_language("\u202e\u200b\x00\ufffd") == "und"


def test_one_megabyte_is_read():
    text = ("my flight was delayed again and nobody helped " * 25_000)[:1_000_000]
    assert detect_language(text) == "en"
