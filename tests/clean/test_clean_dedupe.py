"""Exact and near-duplicate detection."""

from datetime import UTC, datetime, timedelta

import pytest

from opinion.clean import find_duplicates, minhash_bands, text_fingerprint

T0 = datetime(2015, 2, 24, 11, 0, tzinfo=UTC)
ORIGINAL = (
    "@united my flight from Chicago to Denver was delayed four hours and nobody at the gate "
    "could tell us why"
)


def _items(*texts):
    return [(f"p{i}", T0 + timedelta(minutes=i), t) for i, t in enumerate(texts)]


def test_fingerprint_ignores_case_rt_handles_urls_punctuation():
    fp = text_fingerprint(ORIGINAL)
    assert len(fp) == 16
    assert text_fingerprint("RT @bob: " + ORIGINAL.upper() + "!!! http://t.co/x") == fp
    assert text_fingerprint("  " + ORIGINAL.replace(" ", "   ")) == fp
    assert text_fingerprint(ORIGINAL.replace("four", "five")) != fp


def test_fingerprint_hostile_input():
    assert text_fingerprint("") == text_fingerprint("")
    assert text_fingerprint("😀") != text_fingerprint("😡")
    assert text_fingerprint("'; DROP TABLE posts; --") == text_fingerprint("drop table posts")


def test_retweet_is_duplicate_of_original():
    items = _items(ORIGINAL, "RT @someone: " + ORIGINAL)
    assert find_duplicates(items) == {"p1": "p0"}


def test_earliest_is_the_original_regardless_of_order():
    items = [
        ("late", T0 + timedelta(hours=1), "RT @a: " + ORIGINAL),
        ("early", T0, ORIGINAL),
        ("tie-b", T0 + timedelta(hours=2), ORIGINAL + "!"),
    ]
    assert find_duplicates(items) == {"late": "early", "tie-b": "early"}


def test_near_duplicate_with_one_word_changed():
    changed = ORIGINAL.replace("four", "five")
    items = _items(ORIGINAL, changed)
    assert set(minhash_bands(ORIGINAL)) & set(minhash_bands(changed))
    assert find_duplicates(items) == {"p1": "p0"}


def test_unrelated_tweets_not_duplicates():
    items = _items(
        ORIGINAL,
        "@JetBlue the crew on my flight to Boston was wonderful and the snacks were great",
        "@SouthwestAir can I change my flight to Denver without paying a fee this week?",
        "@united my flight from Chicago to Houston was cancelled and I was rebooked for Monday",
    )
    assert find_duplicates(items) == {}
    assert not set(minhash_bands(items[0][2])) & set(minhash_bands(items[1][2]))


def test_short_texts_only_match_exactly():
    assert minhash_bands("@united thanks so much") == []
    items = _items("@united thanks", "@united Thanks!", "@united thanks a lot", "@delta thanks")
    assert find_duplicates(items) == {"p1": "p0"}


def test_emoji_and_empty_texts():
    items = _items("😀😀", "😀😀", "😡", "", "")
    assert find_duplicates(items) == {"p1": "p0", "p4": "p3"}


def test_minhash_bands_shape_and_validation():
    bands = minhash_bands(ORIGINAL, num_perm=128, bands=32)
    assert len(bands) == 32 and len(set(bands)) == 32
    assert minhash_bands(ORIGINAL) == minhash_bands(ORIGINAL)  # deterministic
    try:
        minhash_bands(ORIGINAL, num_perm=64, bands=10)
    except ValueError:
        pass
    else:
        raise AssertionError("num_perm not divisible by bands must raise")


def test_long_text_uses_word_shingles():
    words = [f"word{i % 7000}" for i in range(170_000)]
    big = " ".join(words)[:1_000_000]
    assert len(minhash_bands(big)) == 16
    edited = big.replace("word17 ", "changed ", 1)
    assert find_duplicates(_items(big, edited)) == {"p1": "p0"}


PAIRS = [
    ("@SouthwestAir just did, thank you", "@SouthwestAir about time! Thank you!"),
    ("@united thanks", "@delta thanks!"),
    ("@united thanks", "@United THANKS"),
    (
        "@USAirways I've been on hold for over 2 hours to rebook a cancelled flight",
        "@SouthwestAir been on hold for over an hour and still nobody answers the phone",
    ),
    (
        "the seats on this flight were cramped and the crew never came by with water",
        "RT @someone: the seats on this flight were cramped and the crew never came by with water!",
    ),
    (
        "the seats on this flight were cramped and the crew never came by with water",
        "the seats on this flight were cramped and the crew never came by with water today",
    ),
]


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_pair_rule_is_the_rule_of_find_duplicates(a, b):
    """The warehouse verifies candidate pairs with `verified_duplicate`: it must say what
    `find_duplicates` says, from the stored keys (signature read back from the bands)."""
    from datetime import UTC, datetime

    from opinion.clean.dedupe import dup_probe, verified_duplicate

    t = datetime(2015, 2, 20, tzinfo=UTC)
    grouped = bool(find_duplicates([("a", t, a), ("b", t, b)]))
    pa_ = dup_probe(a, text_fingerprint(a), minhash_bands(a))
    pb = dup_probe(b, text_fingerprint(b), minhash_bands(b))
    assert verified_duplicate(pa_, pb) == grouped
    assert verified_duplicate(dup_probe(a), dup_probe(b)) == grouped  # no bands: from text


def test_signature_read_back_from_band_keys():
    from opinion.clean.dedupe import _signature, shingles, signature_of_bands

    text = "the seats on this flight were cramped and the crew never came by with water"
    sig = _signature(shingles(text), 64)
    assert (signature_of_bands(minhash_bands(text)) == sig).all()
    assert (signature_of_bands([k + "~3" for k in minhash_bands(text)]) == sig).all()
    assert signature_of_bands(["00:shared"]) is None
    assert signature_of_bands(["00:" + "zz" * 16] * 16) is None
