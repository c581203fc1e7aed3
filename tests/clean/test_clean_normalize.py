"""normalize_text on hostile input: it must never raise and must always be fast."""

from opinion.clean import normalize_text


def test_empty_and_whitespace_only():
    assert normalize_text("") == ""
    assert normalize_text(b"") == ""
    assert normalize_text(" \t\n\u200b\ufeff ") == ""


def test_invalid_utf8_bytes_are_replaced_not_raised():
    out = normalize_text(b"caf\xc3\xa9 \xff\xfe ok \xc3")
    assert out.startswith("café ")
    assert "\ufffd" in out
    assert out.endswith("ok \ufffd")


def test_html_entities_unescaped_repeatedly():
    assert normalize_text("A &amp;amp; B &lt;3 &quot;hi&quot;") == 'A & B <3 "hi"'
    assert normalize_text("&amp;amp;amp;lt;") == "<"


def test_nfkc_folds_compatibility_forms():
    assert normalize_text("ｆｕｌｌｗｉｄｔｈ ﬁne №1") == "fullwidth fine No1"


def test_zero_width_and_bidi_controls_removed():
    text = "pay\u200bpal \u202eevil\u202c \u2066iso\u2069 \ufeffbom \u200ejoin\u200d"
    assert normalize_text(text) == "paypal evil iso bom join"


def test_control_chars_removed_newlines_kept_whitespace_collapsed():
    text = "  a\x00b\x07c \t\t d\r\n\r\n\n   e\x1b[31m  "
    assert normalize_text(text) == "abc d\ne[31m"


def test_emoji_only_survives():
    assert normalize_text("😀 😀\u00a0 🛫") == "😀 😀 🛫"


def test_sql_looking_text_passes_through():
    text = "'; DROP TABLE posts; --"
    assert normalize_text(text) == text


def test_one_megabyte_is_read():
    text = ("@united &amp; delayed\u200b again \t\n" * 40_000)[:1_000_000]
    out = normalize_text(text)
    assert "\u200b" not in out and "&amp;" not in out


def test_idempotent():
    samples = [
        "A &amp;amp; B",
        "x\u200by",
        "ｆｕｌｌ  width\n\n\nx",
        "😀",
        "'; DROP TABLE posts; --",
    ]
    for s in samples:
        once = normalize_text(s)
        assert normalize_text(once) == once
