"""Language identification for short social posts.

Why: the aspect and sentiment models are per-language, so each post needs a language code,
and a wrong one silently drops or garbles an opinion. Off-the-shelf identifiers are tuned on
longer text and misfire on tweets ("@united thanks for the great flight!" can come back as
Dutch or Latin), so we:

* strip what is not language before classifying: @handles, URLs, #hashtags, RT prefixes,
  numbers;
* answer 'und' (undetermined) when fewer than `MIN_WORDS` letter-words remain;
* restrict py3langid to `LANGUAGES`, the languages a European/American brand corpus actually
  contains, which removes most exotic misfires on short text;
* answer 'und' when the classifier's normalised confidence is below `MIN_CONFIDENCE`;
* bias toward English for ASCII-only text in which common English function words make up at
  least `ENGLISH_FUNCTION_SHARE` of the words: a short English tweet is then 'en' even when
  the character model leans elsewhere (English is the default language of the corpus and a
  false 'en' costs less than dropping an English complaint).
"""

from __future__ import annotations

import re
import threading
from typing import Any

__all__ = ["LANGUAGES", "detect_language"]

LANGUAGES: tuple[str, ...] = (
    "en", "es", "fr", "de", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs", "tr", "ru",
    "el", "ar", "he", "hi", "ja", "ko", "zh", "id", "vi", "th", "uk", "ro", "hu", "ca",
)  # fmt: skip
MIN_WORDS = 3
MIN_CONFIDENCE = 0.5
ENGLISH_FUNCTION_SHARE = 0.2
UNDETERMINED = "und"

_NOISE_RE = re.compile(
    r"^\s*RT\b:?|https?://\S+|www\.\S+|[@#]\w+|\S+@\S+\.\w+|[\d_]+", re.IGNORECASE
)
_WORD_RE = re.compile(r"[^\W\d_]{2,}")
_ENGLISH_FUNCTION_WORDS = """
    a about after all am an and any are as at be been but by can can't could did didn't do
    don't for from get got had has have he her him his how i i'm if in into is isn't it it's
    just me my no not now of on or our out please she so than thank thanks that the their them
    then there they this to too up us very was wasn't we were what when where which who why
    will with won't would you you're your
"""
_ENGLISH = frozenset(_ENGLISH_FUNCTION_WORDS.split())
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")

_identifier = None
_lock = threading.Lock()


def _get_identifier() -> Any:
    """The py3langid classifier, loaded once per process (loading takes ~0.1-0.3 s)."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                ident.set_languages([code for code in LANGUAGES if code in ident.labels])
                _identifier = ident
    return _identifier


def _looks_english(words: list[str], text: str) -> bool:
    if not words or not text.isascii():
        return False
    hits = sum(w.lower() in _ENGLISH for w in words)
    return hits >= 1 and hits / len(words) >= ENGLISH_FUNCTION_SHARE


def detect_language(text: str) -> str:
    """ISO 639-1 code of `text`, or 'und' when it is too short or too ambiguous to tell."""
    if not text:
        return UNDETERMINED
    stripped = _NOISE_RE.sub(" ", text)
    words = _WORD_RE.findall(_CJK_RE.sub(" ", stripped))
    # Chinese/Japanese do not space words and Korean words are short: two characters ~ a word.
    n_words = len(words) + len(_CJK_RE.findall(stripped)) // 2
    if n_words < MIN_WORDS:
        return UNDETERMINED
    lang, confidence = _get_identifier().classify(" ".join(stripped.split()))
    if lang == "en":
        confident = confidence >= MIN_CONFIDENCE or _looks_english(words, stripped)
        return lang if confident else UNDETERMINED
    if _looks_english(words, stripped):
        return "en"
    return lang if confidence >= MIN_CONFIDENCE else UNDETERMINED
