"""Where spaCy's NER runs for PII: windows around the capitalised word pairs that could be a
redactable name, never a whole long text, and no text without such a pair.

Why: NER is the dearest step of the privacy gate (~2 ms per tweet on the 2-core dev machine,
~linear in length), yet a PERSON span is only redacted when it is two or more words, none a
brand word, and looks like a name (`opinion.clean.privacy.Redactor._is_name`). A full name
holds an adjacent pair of capitalised words that passes the same checks, so texts without
one ("Virgin America", "Customer Service", "Eastern Time (US & Canada)") skip NER; lower-case
names are `opinion.clean.names`' job, as before.

A pair led by a common English word that is neither a first name anywhere nor a title, and
ending in a word that is no first name ("Cancelled Flightled", "Late Flightr", "Customer
Centric") is a phrase, not a name. On the demo corpus this cuts the tweets NER reads from
1,500 to 420 and changes 7 of 14,640 rows, all phrases or places
(benchmarks/privacy_speed.py --compare).

Texts up to `WHOLE` characters (every tweet) are read whole; in a longer text NER reads
`REACH` characters either side of each pair (measured on demo tweets, a ±80-character window
changes the PERSON spans of 27 of 1,525 texts against reading them whole, ±30 of 116: the
reach is kept wide).
"""

from __future__ import annotations

import re

from opinion.clean.names import looks_like_name
from opinion.clean.pii_patterns import any_first_name, common_word

__all__ = ["REACH", "WHOLE", "name_windows"]

WHOLE = 400  # texts up to this many characters go to NER whole
REACH = 120  # characters of context either side of a candidate pair in longer texts

# every pair of capitalised words in a row (overlapping: "Great Rose Baker" gives both
# "Great Rose" and "Rose Baker"), with an optional middle initial; not in a handle or a
# hashtag (as before issue #25: NER calls "#Washington Reagan" a person)
_PAIR = re.compile(r"(?<![@#\w])(?=([A-Z][\w'’\-]+)\s+(?:[A-Z]\.\s+)?([A-Z][\w'’\-]+))")


# words that stand before a name as a title or a form of address ("Lady Gaga", "Officer
# Krupke", "Baby Hannah"): a pair they lead may be a name although they are common words
_TITLE_WORDS = (
    "lady lord sir dame madam mister miss mr mrs ms dr doctor prof professor rev father "
    "sister brother uncle aunt auntie grandma grandpa granny nana baby little big saint st "
    "king queen prince princess president senator governor mayor judge coach officer "
    "captain capt agent supervisor manager pilot nurse chef general colonel sergeant"
)
TITLES = frozenset(_TITLE_WORDS.split())


def _no_name_start(word: str) -> bool:
    """A common English word that is no first name anywhere and no title."""
    low = word.lower()
    return low not in TITLES and common_word(low) and not any_first_name(low)


def _candidates(text: str, keep_words: frozenset[str]) -> list[tuple[int, int]]:
    """(start, end) of the capitalised pairs that could be a redacted name: no brand word,
    and `looks_like_name` (no digits or codes; not two common words unless a first name)."""
    out = []
    for m in _PAIR.finditer(text):
        first, second = m.group(1), m.group(2)
        if first.lower() in keep_words or second.lower() in keep_words:
            continue
        if _no_name_start(first) and not any_first_name(second):
            continue  # "Cancelled Flightled", "Late Flightr": a phrase, no name
        if looks_like_name([first, second]):
            out.append((m.start(1), m.end(2)))
    return out


def _snap(text: str, start: int, end: int) -> tuple[int, int]:
    """The window widened to whitespace (or the text's ends) on both sides, so no token of
    the window is a cut piece of a longer one."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def name_windows(text: str, keep_words: frozenset[str]) -> list[tuple[int, int]]:
    """(start, end) windows of `text` NER should read: none without a candidate pair, the
    whole text when it is short, else merged windows of `REACH` around each pair."""
    pairs = _candidates(text, keep_words)
    if not pairs:
        return []
    if len(text) <= WHOLE:
        return [(0, len(text))]
    windows: list[tuple[int, int]] = []
    for start, end in pairs:
        start, end = _snap(text, max(0, start - REACH), min(len(text), end + REACH))
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((start, end))
    return windows
