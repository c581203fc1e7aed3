"""The posts behind the numbers: the verbatims page (one card per post, sorts, keyset pages,
counts) and the report's verbatims; the exports are in `exports.py`.

Reads the materialised `verbatims` table; every filter is bound with a parameter, never
formatted into SQL text (the fragments below are constants).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import replace as _replace
from datetime import UTC, datetime, timedelta

import duckdb

from opinion.serve.filters import Cursor, Filters

VERBATIMS_PER_PAGE = 50
EXPORT_LIMIT = 10_000  # posts in one CSV export


@dataclass
class Mention:
    """One aspect mention inside a post, for highlighting."""

    mention_id: str
    aspect: str | None
    term: str | None
    start: int | None
    end: int | None
    polarity: str | None
    category: str | None
    touchpoint: str | None
    matched: bool  # this mention satisfies the page's filters (the others are context)
    in_title: bool = False  # start/end index the review's title, not its text

    @property
    def implicit(self) -> bool:
        """No span: the category head read the category in a post that names none."""
        return self.aspect is None

    @property
    def label(self) -> str:
        """What a card, the report and the CSV call the mention: its aspect, or for an
        implicit one its category ("noise", never "None")."""
        if self.aspect is not None:
            return self.aspect
        return (self.category or "other").replace("_", " ")

    @property
    def detail(self) -> str:
        """ "(negative, delays)", or "(negative, implicit)" when the label is the category."""
        extra = "implicit" if self.implicit else (self.category or "").replace("_", " ")
        return f"({self.polarity}{', ' + extra if extra else ''})"

    def csv(self) -> str:
        """ "delay (negative)"; an implicit mention "delays (negative, implicit)"."""
        return f"{self.label} ({self.polarity}{', implicit' if self.implicit else ''})"


@dataclass
class Post:
    """One verbatim card: a post with all its aspect mentions."""

    post_id: str
    source: str
    brand: str
    text: str
    url: str | None
    created: str
    engagement: int
    mentions: list[Mention]
    title: str | None = None  # a review's title (its mentions have `in_title`)

    @property
    def polarity(self) -> str:
        """The card's colour: the net of the polarities of the mentions that matched the
        filters (all of them without filters), per mention as everywhere."""
        hits = [m for m in self.mentions if m.matched] or self.mentions
        pos = sum(m.polarity == "positive" for m in hits)
        neg = sum(m.polarity == "negative" for m in hits)
        return "positive" if pos > neg else "negative" if neg > pos else "neutral"

    def parts(self) -> list[tuple[str, Mention | None]]:
        """The text cut into (piece, mention or None): every aspect span highlighted once;
        spans with bad or overlapping offsets are left out of the highlighting. Mentions
        found in the title index the title, so they are never marked here."""
        return _cut(self.text or "", [m for m in self.mentions if not m.in_title])

    def title_parts(self) -> list[tuple[str, Mention | None]]:
        """The title cut the same way, with the title's own mentions."""
        return _cut(self.title or "", [m for m in self.mentions if m.in_title])

    @property
    def safe_url(self) -> str | None:
        u = self.url or ""
        return u if u.startswith(("https://", "http://")) else None


def _cut(text: str, mentions: list[Mention]) -> list[tuple[str, Mention | None]]:
    """`text` cut into (piece, mention or None) at the mentions' offsets."""
    spans = sorted(
        (m for m in mentions
         if m.start is not None and m.end is not None and 0 <= m.start < m.end <= len(text)),
        key=lambda m: (m.start, -m.end),
    )  # fmt: skip
    out: list[tuple[str, Mention | None]] = []
    pos = 0
    for m in spans:
        if m.start < pos:
            continue  # overlaps the previous span
        if m.start > pos:
            out.append((text[pos : m.start], None))
        out.append((text[m.start : m.end], m))
        pos = m.end
    if pos < len(text):
        out.append((text[pos:], None))
    return out


# The verbatim queries read the `verbatims` table: the rows of `v_verbatims` (eligible mentions
# pre-joined with their post) materialised by the loader in (brand, day) order, so a brand and
# period is a few row groups instead of a join of all mentions to all posts on every request.
_POST_MATCH = """
    brand = $brand AND day BETWEEN $start AND $end
    AND ($since IS NULL OR created_at > $since) AND ($until IS NULL OR created_at <= $until)
    AND ($q IS NULL OR contains(lower(text), lower($q)))
"""  # conditions on the post: all mentions of a post pass or fail them together
_MENTION_MATCH = """
    ($touchpoint IS NULL OR touchpoint = $touchpoint)
    AND ($category IS NULL OR category = $category)
    AND ($aspect IS NULL OR aspect = $aspect)
    AND ($polarity IS NULL OR polarity = $polarity)
"""
_MATCH = f"{_POST_MATCH} AND {_MENTION_MATCH}"

# Newest first, read as a Top-N of matching mention rows in (created_at DESC, post_id) order:
# all rows of a post are adjacent in that order (same created_at, same post_id), so the first
# posts are the first distinct post_ids of the first rows; no GROUP BY over every match. A page
# after (before) a post is the rows strictly after (before) its (created_at, post_id): a keyset,
# whose `day` bound also lets the zone maps skip the row groups of later (earlier) days.
_NEWEST = {
    None: f"""
        SELECT post_id, epoch_us(created_at) FROM verbatims WHERE {_MATCH}
        ORDER BY created_at DESC, post_id LIMIT $rows""",
    "after": f"""
        SELECT post_id, epoch_us(created_at) FROM verbatims
        WHERE {_MATCH} AND day <= $kday AND created_at <= $kts
          AND (created_at < $kts OR post_id > $kid)
        ORDER BY created_at DESC, post_id LIMIT $rows""",
    "before": f"""
        SELECT post_id, epoch_us(created_at) FROM verbatims
        WHERE {_MATCH} AND day >= $kday AND created_at >= $kts
          AND (created_at > $kts OR post_id < $kid)
        ORDER BY created_at, post_id DESC LIMIT $rows""",
}
# The other orders rank by the post's sort keys, which the loader stores on every row of the
# post (migration 0010): most negative = the post's net sentiment over all its mentions
# (`post_net`, ascending), then its negatives (`post_negatives`, descending); most engaged =
# `post_engagement`, descending; ties newest first. The keys are per post, so all rows of a
# post are adjacent in that order too and a page is the same Top-N of rows as newest first;
# pages are skipped posts (OFFSET), not a keyset: the Top-N reads skip + one page of posts.
_RANKED = {
    "negative": f"""
        SELECT post_id, epoch_us(created_at) FROM verbatims WHERE {_MATCH}
        ORDER BY post_net, post_negatives DESC, created_at DESC, post_id LIMIT $rows""",
    "engaged": f"""
        SELECT post_id, epoch_us(created_at) FROM verbatims WHERE {_MATCH}
        ORDER BY post_engagement DESC, created_at DESC, post_id LIMIT $rows""",
}
# The cards of one page: every mention of each post (the matching ones marked) and its
# engagement (stored on its rows). The page's (brand, days) bound the scan to a few row groups.
_CARDS = f"""
SELECT post_id, any_value(source), any_value(brand), any_value(text), any_value(url),
       strftime(timezone('UTC', any_value(created_at)), '%Y-%m-%d %H:%M UTC'),
       any_value(post_engagement),
       list(struct_pack(id := mention_id, aspect := aspect, term := term,
                        s := start, e := "end", polarity := polarity,
                        category := category, touchpoint := touchpoint)
            ORDER BY start, mention_id),
       list(mention_id ORDER BY mention_id) FILTER (WHERE {_MATCH})
FROM verbatims
WHERE brand = $brand AND day BETWEEN $d0 AND $d1 AND post_id IN (SELECT unnest($ids))
GROUP BY post_id
"""
_COUNTS = f"SELECT count(DISTINCT post_id), count(*) FROM verbatims WHERE {_MATCH}"


def _verbatim_params(f: Filters) -> dict:
    return {
        "brand": f.brand,
        "start": f.start,
        "end": f.end,
        "touchpoint": f.touchpoint,
        "category": f.category,
        "aspect": f.aspect,
        "polarity": f.polarity,
        "since": f.since,
        "until": f.until,
        "q": f.q,
    }


def _posts(rows) -> list[Post]:
    out = []
    for pid, source, brand, text, url, created, engagement, ms, matched in rows:
        hits = set(matched or ())
        mentions = [
            Mention(m["id"], m["aspect"], m["term"], m["s"], m["e"], m["polarity"],
                    m["category"], m["touchpoint"], m["id"] in hits)
            for m in ms
        ]  # fmt: skip
        out.append(Post(pid, source, brand, text, url, created, int(engagement or 0), mentions))
    return out


def verbatim_counts(cur, f: Filters) -> tuple[int, int]:
    """(posts, mentions) matching the filters."""
    if not f.brand or f.start is None or f.unknown:
        return 0, 0
    row = cur.execute(_COUNTS, _verbatim_params(f)).fetchone()
    return int(row[0]), int(row[1])


@dataclass
class VerbatimPage:
    """One page of verbatim cards and what the pager needs."""

    posts: list[Post]
    number: int = 1  # the page number shown (a keyset page carries it in its link)
    more: bool = False  # another page follows this one
    first: Cursor | None = None  # (created_at, post_id) of the first / last post: the keys
    last: Cursor | None = None  # of the previous / next page's link (newest sort)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _keys(rows) -> list[Cursor]:
    """(created_at, post_id) from (post_id, epoch µs) rows, first occurrence of each post, in
    order. Times come as integers: converting thousands of TIMESTAMPTZ values costs more than
    the query."""
    return [(_EPOCH + timedelta(microseconds=us), pid) for pid, us in dict.fromkeys(rows)]


def _first_posts(cur, sql: str, params: dict, skip: int, want: int) -> list[Cursor]:
    """(created_at, post_id) of posts skip+1 … skip+want of `sql`: a Top-N of `$rows` mention
    rows in an order where the rows of a post are adjacent, read further while posts with
    many mentions leave fewer than skip+want distinct posts in the rows read."""
    need = skip + want
    rows = 2 * need + 64  # mention rows: a post has a few mentions, rarely dozens
    while True:
        found = cur.execute(sql, {**params, "rows": rows}).fetchall()
        posts = list(dict.fromkeys(found))
        if len(posts) >= need or len(found) < rows:
            return _keys(posts[skip:need])
        rows *= 4  # posts with many mentions took the rows: read further


def _newest(cur, f: Filters, params: dict, skip: int, want: int) -> list[Cursor]:
    """(created_at, post_id) of posts skip+1 … skip+want, newest first (or, with `f.before`,
    the `want` posts just newer than it, oldest first)."""
    mode = "after" if f.after else "before" if f.before else None
    key = f.after or f.before
    if key is not None:
        params = {**params, "kts": key[0], "kday": key[0].astimezone(UTC).date(), "kid": key[1]}
    return _first_posts(cur, _NEWEST[mode], params, skip, want)


def verbatim_page(cur, f: Filters, limit: int = VERBATIMS_PER_PAGE) -> VerbatimPage:
    """One page of posts matching the filters: one card per post, never the same post twice.
    Newest first pages by keyset (`f.after` / `f.before`) or, for old `page=` links, by
    skipping; the other orders by skipping posts of the same Top-N."""
    if not f.brand or f.start is None or f.unknown:
        return VerbatimPage([])
    params = _verbatim_params(f)
    number, skip = f.page, 0 if (f.after or f.before) else (f.page - 1) * limit
    if f.sort == "newest":
        keys = _newest(cur, f, params, skip, limit + 1)
        if f.before:
            if len(keys) <= limit:  # nothing newer than this page: it is the first page
                return verbatim_page(cur, _replace(f, page=1, before=None), limit)
            keys = keys[:limit][::-1]  # newest first again; one more newer post exists
            more = True
        else:
            more, keys = len(keys) > limit, keys[:limit]
    else:
        keys = _first_posts(cur, _RANKED[f.sort], params, skip, limit + 1)
        more, keys = len(keys) > limit, keys[:limit]
    if not keys:
        return VerbatimPage([], number)
    return VerbatimPage(cards(cur, f, keys), number, more, keys[0], keys[-1])


def cards(cur, f: Filters, keys: list[Cursor]) -> list[Post]:
    """The cards of these posts ((created_at, post_id) keys), in the keys' order, with the
    mentions matching `f` marked."""
    if not keys:
        return []
    ids = [pid for _, pid in keys]
    times = [created for created, _ in keys]
    rows = cur.execute(
        _CARDS,
        {**_verbatim_params(f), "ids": ids,
         "d0": min(times).astimezone(UTC).date(), "d1": max(times).astimezone(UTC).date()},
    ).fetchall()  # fmt: skip
    order = {pid: i for i, pid in enumerate(ids)}
    posts = sorted(_posts(rows), key=lambda p: order[p.post_id])
    _add_titles(cur, posts, min(times), max(times))
    return posts


def _add_titles(cur, posts: list[Post], first: datetime, last: datetime) -> None:
    """Reviews' titles and which mentions index them (`verbatims` has neither): the page's
    posts by their time range first (zone maps: a few row groups), and the mentions only when
    one of them has a title, so a page of tweets costs one small lookup."""
    ids = [p.post_id for p in posts]
    try:
        titles = dict(
            cur.execute(
                "SELECT post_id, title FROM posts WHERE created_at BETWEEN $a AND $b "
                "AND title IS NOT NULL AND post_id IN (SELECT unnest($ids))",
                {"a": first, "b": last, "ids": ids},
            ).fetchall()
        )
        in_title = set()
        if titles:
            in_title = {
                mid for (mid,) in cur.execute(
                    "SELECT mention_id FROM mentions WHERE in_title "
                    "AND post_id IN (SELECT unnest($ids))",
                    {"ids": list(titles)},
                ).fetchall()
            }  # fmt: skip
    except duckdb.Error:  # a warehouse from before reviews (migration 0004)
        return
    for p in posts:
        p.title = titles.get(p.post_id)
        for m in p.mentions:
            m.in_title = m.mention_id in in_title


def verbatims(cur, f: Filters, limit: int = VERBATIMS_PER_PAGE) -> tuple[int, list[Post]]:
    """(posts matching, one page of posts): one card per post, never the same post twice."""
    if not f.brand or f.start is None or f.unknown:
        return 0, []
    total, _ = verbatim_counts(cur, f)
    return total, verbatim_page(cur, f, limit).posts


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "|", "%")
#: "@united lost my bag" is a mention, not a formula: `@` is neutralised only where a function
#: call or a DDE payload could follow (`@SUM(`, `@cmd|`, `@A1!`), so tweets stay unchanged.
_AT_FORMULA = re.compile(r"@[^\s]*[(|!]")


def csv_cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run: formula prefixes get a leading quote."""
    text = "" if value is None else str(value)
    if text.startswith("@") and not _AT_FORMULA.match(text):
        return text
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text
