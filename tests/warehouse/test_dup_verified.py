"""dup_of at the warehouse: only verified near-duplicates, kept right by partition rewrites.

Posts carry the real keys extract writes (`text_fingerprint`, `minhash_bands` of their text),
so a shared band proves nothing until the pair passes the clean stage's rule.
"""

from opinion.clean.dedupe import minhash_bands, text_fingerprint
from opinion.warehouse import connect, load_lake

from .conftest import mention_rows, post_row, write_mentions

DUPS = "SELECT post_id, dup_of FROM posts ORDER BY post_id"


def real(source: str, day: str, i: int, text: str, **over) -> dict:
    """A post whose duplicate keys are the ones extract computes from its text."""
    keys = {"text_hash": text_fingerprint(text), "minhash_bands": minhash_bands(text)}
    return post_row(source, day, i, text=text, **{**keys, **over})


def dups(settings) -> dict:
    with connect(settings.writer_warehouse) as con:
        return dict(con.execute(DUPS).fetchall())


LONG = "been on hold for over two hours trying to rebook my cancelled flight to denver"


def test_only_verified_pairs_become_duplicates(settings):
    day1, day2 = "2015-02-20", "2015-02-21"
    orig = real("twitter", day1, 0, "@united " + LONG)
    near = real("twitter", day2, 1, "@united " + LONG + " again")  # Jaccard >= 0.8
    other_brand = real("twitter", day2, 2, "@delta " + LONG + " again", brand="delta")
    copy_brand = real("twitter", day2, 3, "@united " + LONG, brand="delta")  # exact copy
    thanks_u = real("twitter", day1, 4, "@united thanks")
    thanks_d = real("twitter", day2, 5, "@delta thanks!", brand="delta")  # other handle
    thanks_u2 = real("twitter", day2, 6, "@United THANKS")  # same words, same handle
    # shares a band with `orig` (planted) but says something else: a candidate, not a copy
    unlike = real("twitter", day2, 7, "@united the lounge in denver was clean and quiet today")
    unlike["minhash_bands"] = unlike["minhash_bands"][:-1] + orig["minhash_bands"][-1:]
    day1_posts = [orig, thanks_u]
    day2_posts = [near, other_brand, copy_brand, thanks_d, thanks_u2, unlike]
    write_mentions(settings.lake_dir, "twitter", day1, day1_posts)
    write_mentions(settings.lake_dir, "twitter", day2, day2_posts)
    load_lake(settings)
    got = dups(settings)
    assert got[near["post_id"]] == orig["post_id"]
    assert got[other_brand["post_id"]] is None  # near copy about another brand: kept
    assert got[copy_brand["post_id"]] == orig["post_id"]  # exact copy: counted once
    assert got[thanks_d["post_id"]] is None
    assert got[thanks_u2["post_id"]] == thanks_u["post_id"]
    assert got[unlike["post_id"]] is None
    assert got[orig["post_id"]] is None and got[thanks_u["post_id"]] is None


def test_rewritten_day_with_same_posts_keeps_dup_of(settings):
    """A day rewritten with the same posts (a polarity fix) keeps the dup_of of `--rebuild`."""
    days = ["2015-02-20", "2015-02-21", "2015-02-22"]
    posts = {}
    for n, day in enumerate(days):
        posts[day] = [real("twitter", day, i, f"@united {LONG} number {i}") for i in range(4)]
        posts[day].append(real("twitter", day, 9, f"@united day {n} was a fine flight home"))
        write_mentions(settings.lake_dir, "twitter", day, posts[day])
    load_lake(settings)
    before = dups(settings)
    assert sum(v is not None for v in before.values()) == 11  # 12 copies, 1 original
    ms = mention_rows(posts[days[1]])
    for m in ms[::4]:
        m["polarity"] = "negative"
    write_mentions(settings.lake_dir, "twitter", days[1], posts[days[1]], ms)
    report = load_lake(settings)
    assert report.partitions_loaded == [f"mentions/source=twitter/day={days[1]}"]
    assert dups(settings) == before
    load_lake(settings, rebuild=True)
    assert dups(settings) == before
