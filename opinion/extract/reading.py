"""What the engine reads for a post, and which brand the post is about.

Brand and target linking (a tweet is filed under the brand its text names; a review under the
brand it reviews) and the review reading text (title, then body), with the mapping of spans
back to `posts.text` / `posts.title` offsets.
"""

from __future__ import annotations


def brand_and_target(text: str, source_brand: str | None, brands):
    """The brand a post is about and the span naming it (the post-level sentiment target).

    The text wins over the source's label: the demo CSV labels ~2,200 @JetBlue tweets as
    "Delta", and a CX team wants them counted for JetBlue. The source's label is kept when
    the text names no known brand."""
    found = brands.find(text)
    if found:
        return found[0], (found[1], found[2], brands.names_other(text, found))
    return source_brand, None


def review_brand_and_target(text: str, source_brand: str | None, brands):
    """A review is filed under the brand it reviews: the source's label wins (a BA review that
    says "better than Delta" stays BA's). A label that is wholly a known brand's alias takes
    that brand's name ("Delta Air Lines" → "Delta"); the target is the text's first mention
    of that brand, if any."""
    if not source_brand:
        return brand_and_target(text, source_brand, brands)
    label = source_brand.strip()
    named = brands.find(label)
    brand = named[0] if named and named[1] == 0 and named[2] == len(label) else label
    found = brands.find(text)
    return brand, ((found[1], found[2]) if found and found[0] == brand else None)


def is_review(row: dict) -> bool:
    """A post with a rating or a title is a review (of the brand it was collected for)."""
    return row.get("rating_scale") is not None or bool(row.get("title"))


def reading_text(row: dict) -> tuple[str, int]:
    """What the engine reads for a post, and where `text` starts in it: a review's title
    (ended as a sentence) then a blank line then its text; a post without a title, its text.

    `posts.text` stays the body, so mention offsets are mapped back (`place_mention`)."""
    body, title = row.get("text") or "", (row.get("title") or "").strip()
    if not title:
        return body, 0
    head = title + ("" if title[-1] in ".!?…" else ".") + "\n\n"
    return head + body, len(head)


def place_mention(start: int, end: int, offset: int, title_len: int):
    """(start, end, in_title) of a span of the reading text: offsets into `text`, or into
    `title` for a span inside the title; None for a span that straddles the two."""
    if start >= offset:
        return start - offset, end - offset, False
    if end <= title_len:
        return start, end, True
    return None
