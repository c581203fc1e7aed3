"""What looks like personal data but is the object of an opinion: organisations' handles,
places, abbreviations, role mailboxes, toll-free numbers.

Why: redacting "Denver Intl Airport", "@Reuters" or "eservice@united.com" destroys the aspect a
CX tool exists to find and protects nobody. Issue #28 measured 104 of 200 redacted spans of the
demo corpus as not personal; benchmarks/redaction_precision.py keeps the number honest (a
hand-labelled seeded sample, docs/hardening.md). Every rule here is generic (a shape, a word
class or a public list), never a value from a sample.
"""

from __future__ import annotations

import re

from opinion.clean.pii_patterns import any_first_name, common_word

__all__ = ["date_like", "name_span", "not_a_handle", "org_handle", "role_email", "toll_free"]

# handles that name an organisation, not a person: airports, airlines, media, help desks,
# companies, teams, clubs (matched after trailing digits and underscores are cut)
_ORG_HANDLE = re.compile(
    r"(?i)airport|airways|airlines?$|^air(?!e?y$)|(?-i:Air)$|_air$|^i?fly|aviation|alliance|news|times|tribune|"
    r"magazine|journal|post$|today$|daily|radio|^tv|tv$|network|media|official|support$|"
    r"help$|care$|^ask|^team|hq$|^the[a-z]*(?:show|news|times)|hotels?|resorts?|travel|"
    r"tours?$|bank|^visit|tourism|^gov|^faa|^tsa$|^cnn|^abc|^nbc|^cbs|^fox|^bbc|^wsj$|^nyt|"
    r"msnbc|cnbc|reuters|bloomberg|forbes|skift|huffpost|buzzfeed|guardian|telegraph|"
    r"online$|company|wireless|mobile$|andco$|inc$|corp$|llc$|ltd$|gmbh$|awards?$|_?usa$|"
    r"_uk$|golf|softball|football|basketball|baseball|hockey|soccer|athletics|players$|"
    r"church|college|universit|school|club$|foundation$|charity|agency|ministry|council|"
    r"police|dept$|museum|festival|store$|shop$|group$|global$|studios?$"
)


def org_handle(handle: str) -> bool:
    """The @handle names an organisation by its shape (`phlairport`, `flytpa`, `cnnbrk`,
    `ContinentalAir1`, `AggieMensGolf`)."""
    core = handle.strip("_").rstrip("0123456789_") or handle
    return bool(_ORG_HANDLE.search(core))


_TIME_OR_COUNT = re.compile(r"(?i)^\d{1,4}(?:am|pm|h|min|k)?$")


def not_a_handle(handle: str, keep_words: frozenset[str] = frozenset()) -> bool:
    """`@handle` that is not a person's account: a time or count (`@10AM`, `@3:30`), a brand or
    taxonomy word (`@Southwest`), or one common English word that is no first name
    (`@unfriendly`, `@Australia`): people's handles are rarely a dictionary word."""
    low = handle.lower()
    if _TIME_OR_COUNT.match(handle) or low in keep_words:
        return True
    return handle.isalpha() and len(handle) > 2 and common_word(low) and not any_first_name(low)


# RFC 2142 and customer-service mailboxes: an organisation's address, not a person's
_ROLE_LOCAL = re.compile(
    r"(?i)^(?:e-?|customer-?|guest-?|web-?)?(?:service|services|support|help|helpdesk|info|"
    r"contact|contactus|care|feedback|complaints?|relations|enquiries|inquiries|sales|press|"
    r"media|noreply|no-reply|donotreply|admin|webmaster|postmaster|abuse|privacy|refunds?|"
    r"baggage|reservations|bookings?|groups|office|hello|team)$"
)


def role_email(address: str) -> bool:
    """An organisation's role mailbox (`eservice@united.com`, `support@…`)."""
    local = address.strip().partition("@")[0]
    return bool(_ROLE_LOCAL.match(local))


# NANP toll-free, and the international freephone +800 (UIFN) after any exit code
_TOLL_FREE = re.compile(
    r"^(?:(?:\+?1)?(?:800|888|877|866|855|844|833)\d{7}|(?:\+|0\d{1,3})800\d{8})$"
)


# a calendar date (02.27.2015, 27/02/2015, 2015-02-27): phone parsers take some for numbers
_DATE = re.compile(
    r"^(?:(?:0?[1-9]|[12]\d|3[01])[./\-](?:0?[1-9]|[12]\d|3[01])[./\-](?:19|20)\d{2}|"
    r"(?:19|20)\d{2}[./\-](?:0?[1-9]|1[0-2])[./\-](?:0?[1-9]|[12]\d|3[01]))$"
)


def date_like(value: str) -> bool:
    """A date, not a phone number (`02.27.2015`)."""
    return bool(_DATE.match(value.strip()))


def toll_free(number: str) -> bool:
    """A toll-free number (1-800 …, +800 …): a business line, never a customer's."""
    return bool(_TOLL_FREE.match(re.sub(r"[^\d+]", "", number)))


# a word right after the span that makes it a place, a route or a thing: "Denver Intl
# Airport", "John Wayne airport", "Austin-Dallas Love Field route", "miss Dallas flight"
_PLACE_AFTER = re.compile(
    r"(?i)^[\s\-,]*(?:airport|airports|intl|international|int'l|terminal|field|route|routes|"
    r"station|hub|gate|lounge|airlines?|airways|air\b|hotel|hotels|resort|inn|center|centre|"
    r"mall|stadium|arena|university|college|school|hospital|county|city|valley|beach|"
    r"island|islands|bay|park|club|team|show|channel|network|app|website|store|cafe|café|"
    r"bar|grill|restaurant|bistro|diner|deli|kitchen|pub|bakery|pizzeria|cty|township|parish|"
    r"flight(?!\s+"
    r"(?:attendants?|crew|purser|steward)))\b"
)
# a lower-case word with a contraction (didn't, it's, we're): a verb glued to a name's span
_CONTRACTION = re.compile(r"^[a-z]+(?:n['’]t|['’](?:s|re|ll|ve|d|m))$")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;…\"“(]\s*|^\s*(?:[@#]\w+\s+)+)$")
_VOWEL = re.compile(r"[aeiouyAEIOUY]")


def _abbreviation(word: str, shout: bool) -> bool:
    """`Svc`, `Psngrs`, `RT`, `UA`: a code or an abbreviation, not a name part."""
    if len(word) > 1 and word.isupper() and not shout:
        return True
    return word.isascii() and word.isalpha() and not _VOWEL.search(word)


def name_span(
    text: str, start: int, end: int, shout: bool = False, least: int = 2, initial: bool = True
) -> tuple[int, int] | None:
    """(start, end) of the name in a Latin-script span a recogniser took for a person's name,
    or None when it is not one: a place or thing by the word after it (`… Airport`, `… route`,
    `… flight`), a word glued to digits (`UA6194`), abbreviations and codes (`Cust Svc`,
    `Nice RT`), a sentence-initial common word (`Left Psngrs`: "Left" is a verb, not a name)
    cut from the front. Fewer than `least` name words left → None; `shout`: the text is in
    capitals, so all-caps words are words; `initial`: look at the sentence start (not after a
    context word such as "Mr" or "agent")."""
    if _PLACE_AFTER.match(text[end:]):
        return None
    if end < len(text) and text[end].isdigit():
        return None
    words = [m for m in re.finditer(r"[^\W\d_][\w'’\-]*", text[start:end])]
    if any(_PLACE_AFTER.match(w.group(0)) for w in words[1:]):  # "John Wayne airport"
        return None
    if any(_abbreviation(w.group(0), shout) for w in words):
        return None
    if initial and words and _SENTENCE_START.search(text[: start + words[0].start()]):
        first = words[0].group(0)
        if common_word(first) and not any_first_name(first):
            words = words[1:]
    while words and _CONTRACTION.match(words[-1].group(0)):  # "Rhonda didn't", "Denver it's"
        words = words[:-1]
    if len(words) < least:
        return None
    return start + words[0].start(), start + words[-1].end()
