"""The verbatims of the current filter as a file: CSV (`/verbatims.csv`, formula prefixes
neutralised) or an Excel workbook (`/verbatims.xlsx`, every cell typed as text, so nothing is
evaluated and nothing needs a `'` in front: the clean way to open tweets in a spreadsheet).

One row per post, with what an analyst filters on: its categories, touchpoints and polarity,
the review's rating and title (empty for posts without them). Filters are bound parameters.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace

from opinion.serve.filters import Filters
from opinion.serve.verbatims import EXPORT_LIMIT, csv_cell, verbatim_page

HEADER = (
    "post_id", "created_utc", "brand", "source", "url", "polarity", "engagement", "categories",
    "touchpoints", "aspects", "matched_aspects", "rating", "rating_scale", "title", "text",
)  # fmt: skip


def _joined(values) -> str:
    return "; ".join(dict.fromkeys(v for v in values if v))


def export_records(cur, f: Filters, limit: int = EXPORT_LIMIT) -> Iterator[tuple]:
    """The rows of the export (values as stored, nothing neutralised), header excluded."""
    if not f.brand or f.start is None or f.unknown:
        return
    posts = verbatim_page(cur, replace(f, page=1, after=None, before=None), limit).posts
    reviews = {}
    if posts:
        reviews = {
            pid: (rating, scale, title)
            for pid, rating, scale, title in cur.execute(
                "SELECT post_id, coalesce(rating_value, rating), "
                "coalesce(rating_scale, CASE WHEN rating IS NOT NULL THEN '1-5' END), title "
                "FROM posts WHERE post_id IN (SELECT unnest($ids))",
                {"ids": [p.post_id for p in posts]},
            ).fetchall()
        }
    for p in posts:
        rating, scale, title = reviews.get(p.post_id, (None, None, None))
        yield (
            p.post_id, p.created, p.brand, p.source, p.safe_url, p.polarity, p.engagement,
            _joined(m.category for m in p.mentions), _joined(m.touchpoint for m in p.mentions),
            "; ".join(m.csv() for m in p.mentions),
            "; ".join(m.csv() for m in p.mentions if m.matched),
            rating, scale, title, p.text,
        )  # fmt: skip


def csv_text(cur, f: Filters) -> str:
    import csv

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADER)
    for row in export_records(cur, f):
        writer.writerow(csv_cell(v) for v in row)
    return buf.getvalue()


def xlsx_bytes(cur, f: Filters) -> bytes:
    """A workbook of the export: text cells typed as strings (never formulas), numbers as
    numbers. Characters XML cannot hold (control characters) are dropped from those cells."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("verbatims")

    def cell(value):
        if value is None or isinstance(value, int | float):
            return WriteOnlyCell(ws, value=value)
        c = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("", str(value)))
        c.data_type = "s"  # a string, even when it starts with "=": openpyxl would write "f"
        return c

    ws.append([cell(h) for h in HEADER])
    for row in export_records(cur, f):
        ws.append([cell(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
