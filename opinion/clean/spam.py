"""Spam signals: cheap, explainable evidence that a post is promotion, not opinion.

Why: follower-bait, link farms and promo blasts mention brands too, and their "sentiment" is
noise. We do not delete on a score; we record it with reasons so analysts can filter at a
threshold (0.5 by default) and audit why a post was flagged.

Each signal has a weight (`WEIGHTS`) and signals combine like independent evidence
(noisy-OR: 1 - prod(1 - w)). Shouting and elongated words are what angry customers do, so
`all_caps` and `repeated_chars` are weak on their own (together 0.28); promotion phrases and
link/hashtag stuffing are strong, and two strong signals pass 0.5. Phrases that customers
also use with a brand ("follow back so I can DM", "promo code") count as weak evidence.
"""

from __future__ import annotations

import re

__all__ = ["PROMO_PHRASES", "SPAM_THRESHOLD", "WEIGHTS", "spam_signals"]

SPAM_THRESHOLD = 0.5
WEIGHTS: dict[str, float] = {
    "promo_phrases": 0.55,  # a strong phrase; more than one strong phrase adds `PROMO_EXTRA`
    "many_urls": 0.35,  # 3+ URLs add 0.15
    "many_hashtags": 0.3,
    "many_mentions": 0.25,
    "repeated_chars": 0.15,
    "all_caps": 0.15,
}
PROMO_EXTRA = 0.25
WEAK_PROMO_WEIGHT = 0.3  # only weak phrases matched: still reported as "promo_phrases"

PROMO_PHRASES: tuple[str, ...] = (
    "free followers", "more followers", "get followers", "buy followers", "gain followers",
    "follow4follow", "follow for follow", "f4f", "teamfollowback", "dm for promo",
    "dm for promos", "dm for promotion", "dm me for promo", "check out my", "subscribe to my",
    "work from home", "earn money", "make money online", "crypto giveaway", "link in bio",
    "click the link in bio", "retweet to win", "rt to win", "free iphone", "free gift card",
)  # fmt: skip
# Phrases genuine customers use with a brand too ("follow back so I can DM you", "my promo
# code expired", "I tried to click here and ..."): weak evidence on their own.
WEAK_PROMO_PHRASES: tuple[str, ...] = (
    "follow back", "followback", "promo code", "click here", "giveaway", "limited offer",
    "limited time offer", "act now", "discount code", "win a", "visit my", "cheap flights",
    "make money", "bitcoin", "100% free",
)  # fmt: skip

_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HASHTAG_RE = re.compile(r"(?<!\w)#\w+")
_MENTION_RE = re.compile(r"(?<!\w)@\w+")
_REPEAT_RE = re.compile(r"([^\W\d_])\1{4,}|([!?$*.])\2{7,}")  # "sooooo", "!!!!!!!!"
_WORD_RE = re.compile(r"[^\W\d_]+")


def _phrase_re(phrases: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in phrases)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


_PROMO_RE = _phrase_re(PROMO_PHRASES)
_WEAK_PROMO_RE = _phrase_re(WEAK_PROMO_PHRASES)


def spam_signals(text: str) -> tuple[float, list[str]]:
    """Spam score in 0..1 and the names of the signals that fired (empty when clean)."""
    if not text:
        return 0.0, []
    reasons: list[str] = []
    weights: list[float] = []

    def fire(name: str, weight: float | None = None) -> None:
        reasons.append(name)
        weights.append(WEIGHTS[name] if weight is None else weight)

    promo = {m.group(0).lower() for m in _PROMO_RE.finditer(text)}
    if promo:
        fire("promo_phrases", WEIGHTS["promo_phrases"] + PROMO_EXTRA * (len(promo) > 1))
    elif _WEAK_PROMO_RE.search(text):
        fire("promo_phrases", WEAK_PROMO_WEIGHT)
    n_urls = len(_URL_RE.findall(text))
    if n_urls >= 2:
        fire("many_urls", WEIGHTS["many_urls"] + 0.15 * (n_urls >= 3))
    body = _MENTION_RE.sub(" ", _URL_RE.sub(" ", text))
    n_tags = len(_HASHTAG_RE.findall(body))
    n_words = len(_WORD_RE.findall(_HASHTAG_RE.sub(" ", body)))
    if n_tags >= 5 or (n_tags >= 3 and n_tags > n_words):
        fire("many_hashtags")
    if len(_MENTION_RE.findall(text)) >= 5:
        fire("many_mentions")
    if _REPEAT_RE.search(body):
        fire("repeated_chars")
    letters = [c for c in _HASHTAG_RE.sub(" ", body) if c.isalpha()]
    if len(letters) >= 15 and sum(c.isupper() for c in letters) / len(letters) >= 0.8:
        fire("all_caps")

    keep = 1.0
    for w in weights:
        keep *= 1.0 - w
    return round(1.0 - keep, 4), reasons
