"""The privacy bar: a corpus with planted personal data goes through collect → extract →
load, and not one planted value is found in any lake file or warehouse table (rejects too)."""

from __future__ import annotations

import json

import duckdb
import pyarrow.parquet as pq
import pytest

ZW = "\u200b"  # zero-width space, the classic filter dodge
# value planted -> where it is planted (documentation for whoever reads a failure)
PLANTED = {
    "ingrid.vasquez@fjordmail.example.com": "text",
    "+33 1 42 68 53 00": "text (FR)",
    "0044 20 7946 0321": "text (00-prefixed UK)",
    "07700 900461": "text (bare UK mobile)",
    "2025550143": "text (bare US)",
    "4111 1111 1111 1111": "text (card)",
    "GB82 WEST 1234 5698 7654 32": "text (IBAN)",
    "203.0.113.77": "text (IP)",
    "078-05-1120": "text (SSN)",
    "hunter2pass": "text (URL credentials)",
    "TRACKTOKEN9": "text (upper-case scheme URL query)",
    "sessid=QWERTY77": "text (scheme-less URL query)",
    "Bartholomew Quist": "text (third-party full name)",
    "742 Evergreen Terrace": "text (street address)",
    "olaf.nordmann@postbox.example.org": "raw only, zero-width obfuscated",
    "+44 20 7946 0999": "raw only, full-width obfuscated",
    "quist_fan_88": "raw nested screen_name",
    "40.71234": "raw nested lat",
    "-74.00567": "raw nested lng",
    "Springfield, Oregon": "raw tweet_location",
    "URLTOKEN42": "posts.url query",
    "peppa_author": "author name and URL path",
    "reject.me@leaky.example.net": "rejected row (bad timestamp)",
    "Cornelius Fudgewick": "rejected row (1970 date)",
}


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def _rows() -> list[dict]:
    good = "2015-02-20T10:00:00Z"
    texts = [
        "@united mail ingrid.vasquez@fjordmail.example.com about my bag",
        "@united call +33 1 42 68 53 00 or 0044 20 7946 0321 now",
        "@united my mobile is 07700 900461, office 2025550143",
        "@united charged my card 4111 1111 1111 1111 twice, refund to GB82 WEST 1234 5698 7654 32",
        "@united your wifi gave me 203.0.113.77 and asked my SSN 078-05-1120",
        "@united login at https://bob:hunter2pass@portal.example.com/x failed",
        "@united see HTTPS://track.example.com/a?id=TRACKTOKEN9 and example.com/b?sessid=QWERTY77",
        "@united Bartholomew Quist at the desk was rude, send it to 742 Evergreen Terrace",
        "@united great crew today, thanks Maria",
    ]
    rows = [
        {
            "id": str(i),
            "body": t,
            "created": good,
            "author": "peppa_author",
            "link": f"https://twitter.com/peppa_author/status/{i}?s=20&t=URLTOKEN42",
            "user": {"screen_name": "quist_fan_88", "bio": "from the desk"},
            "geo": {"lat": 40.71234, "lng": -74.00567},
            "tweet_location": "Springfield, Oregon",
            "contact": "olaf" + ZW + ".nordmann@post" + ZW + "box.example.org",
            "alt_phone": _fullwidth("+44 20 7946 0999"),
        }
        for i, t in enumerate(texts)
    ]
    rows.append({"id": "r1", "body": "mail reject.me@leaky.example.net", "created": "yesterday"})
    rows.append(
        {"id": "r2", "body": "Cornelius Fudgewick wrote", "created": "1970-01-01T00:00:00Z"}
    )
    return rows


def _lake_strings(lake_dir) -> list[str]:
    out = []
    for path in lake_dir.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            for col in pq.read_table(path).to_pylist():
                out.append(json.dumps(col, default=str, ensure_ascii=False))
        else:
            out.append(path.read_text(encoding="utf-8", errors="replace"))
    return out


def _warehouse_strings(path) -> list[str]:
    out = []
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        ).fetchall()
        for (table,) in tables:
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                out.append(json.dumps(row, default=str, ensure_ascii=False))
    return out


@pytest.mark.slow
def test_no_planted_value_survives_collect_extract_load(tmp_path, settings, engine):
    from opinion.collect.partitions import collect_file
    from opinion.extract.stage import extract
    from opinion.sources.files import FileSourceConfig
    from opinion.warehouse.load import run_load as load

    corpus = tmp_path / "planted.jsonl"
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in _rows()) + "\n")
    mapping = {
        "native_id": "id",
        "text": "body",
        "created_at": "created",
        "author": "author",
        "url": "link",
    }
    report = collect_file(settings, FileSourceConfig(corpus, "planted", mapping))
    assert report.posts == 9 and report.rejected == 2
    extract(settings, engine)
    load(settings)
    haystack = "\n".join(
        _lake_strings(settings.lake_dir) + _warehouse_strings(settings.warehouse)
    ).lower()
    leaked = [v for v in PLANTED if v.lower() in haystack]
    assert not leaked, {v: PLANTED[v] for v in leaked}
    # the analysis still has its material: brands, redaction tags, a staff first name
    assert "@united" in haystack and "[email]" in haystack and "[person]" in haystack
    assert "maria" in haystack
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        urls = {u for (u,) in con.execute("SELECT url FROM posts").fetchall()}
    assert urls == {f"https://twitter.com/i/status/{i}" for i in range(9)}
