"""Issue #28's privacy findings, with values of our own: each planted value must be gone
after collect (text, title, url, payload strings, numbers and keys, id and brand columns,
reject reasons), and the opinion's objects (prices, flights, routes, products, organisation
handles) must stay."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

# value -> (category, sentence it is planted in)
PLANTED = {
    "ewa dot lisowska at onet dot pl": "spelled e-mail (words)",
    "tomek(at)interia.pl": "spelled e-mail (at)",
    "ruth [at] posteo [dot] de": "spelled e-mail (brackets)",
    "lukas @ gmx.ch": "spelled e-mail (spaced @)",
    "Ingegärd Öhrström": "name with diacritics",
    "Juan Carlos de la Vega": "name with particles",
    "malgorzata brzezinska": "lower-case name",
    "Trần Thị Mai": "Vietnamese name",
    "Светлана Кузнецова": "Cyrillic name",
    "李建国": "Han name",
    "박서준": "Hangul name",
    "فاطمة الزهراء": "Arabic name",
    "5500.0055.5555.5559": "card with dots",
    "de89370400440532013000": "lower-case IBAN",
    "219099999": "SSN without separators",
    "13912345678": "bare Chinese mobile",
    "Lindenstraße 27": "German address",
    "8 rue des Lilas": "French address",
    "ul. Piękna 44": "Polish address",
    "ZQ8K4P": "booking reference",
    "qxmvtb": "PNR after a context word",
    "176-2401234567": "e-ticket",
    "KL998877665": "frequent-flyer number",
    "C01X00T47": "passport",
    "92071012348": "PESEL",
    "98765432M": "Spanish DNI",
    "bc1q9h6yzs6dx3yjv5h7fw0d6lk3ncq2xj0vd0wzzn": "bitcoin wallet",
    "0x8ba1f109551bD432803012645Ac136ddd64DBA72": "ethereum wallet",
    "igor.private@example.org": "e-mail as a JSON key",
    "15551230987": "phone as a JSON number",
    "4012888888881881": "card as a JSON number",
    "ola.nowak": "facebook profile in a URL",
    "piotr-zielinski-42": "linkedin profile in a URL",
    "hidden_handle_77": "twitter handle in a files url column",
    "wiktor@mailbox.example.net": "e-mail in a URL path",
    "ann.brand@example.com": "e-mail in the brand column",
    "ZX99 0000 leak": "quoted value in a reject reason",
}
KEPT = ["$150 one way", "UA5 LHR-IAH", "Galaxy S4", "Embassy Suites", "@phlairport", "@united"]
DAY = "2015-02-20T10:00:00Z"


def _rows() -> list[dict]:
    texts = [
        "@united write to ewa dot lisowska at onet dot pl or tomek(at)interia.pl",
        "@united also ruth [at] posteo [dot] de and lukas @ gmx.ch",
        "@united agent Ingegärd Öhrström and Juan Carlos de la Vega were great",
        "@united malgorzata brzezinska lost my bag, so did Trần Thị Mai",
        "@united the crew Светлана Кузнецова, 李建国, 박서준 and فاطمة الزهراء helped",
        "@united card 5500.0055.5555.5559, iban de89370400440532013000, ssn 219099999",
        "@united call me on 13912345678, I live at Lindenstraße 27",
        "@united send it to 8 rue des Lilas or ul. Piękna 44",
        "@united booking ZQ8K4P, my pnr is qxmvtb, e-ticket 176-2401234567",
        "@united frequent flyer KL998877665, passport C01X00T47",
        "@united PESEL 92071012348, DNI 98765432M",
        "@united tip me bc1q9h6yzs6dx3yjv5h7fw0d6lk3ncq2xj0vd0wzzn or "
        "0x8ba1f109551bD432803012645Ac136ddd64DBA72",
        "@united $150 one way on UA5 LHR-IAH, my Galaxy S4 died, Embassy Suites shuttle, "
        "thanks @phlairport",
        "@united see https://www.facebook.com/ola.nowak and linkedin.com/in/piotr-zielinski-42 "
        "and https://example.com/u/wiktor@mailbox.example.net/page",
    ]
    rows = [
        {
            "id": str(i),
            "body": t,
            "created": DAY,
            "author": "some_author",
            "brand": "United",
            "link": f"https://twitter.com/hidden_handle_77/status/{i}",
            "extra": {"igor.private@example.org": "x", "phone": 15551230987},
            "card_num": 4012888888881881,
        }
        for i, t in enumerate(texts)
    ]
    rows[0]["brand"] = "ann.brand@example.com"
    rows.append({"id": "r1", "body": "x", "created": "'ZX99 0000 leak'"})
    return rows


def _haystack(lake_dir) -> str:
    out = []
    for path in lake_dir.rglob("*"):
        if path.is_file() and path.suffix == ".parquet":
            out += [
                json.dumps(r, default=str, ensure_ascii=False)
                for r in pq.read_table(path).to_pylist()
            ]
        elif path.is_file():
            out.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(out)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_issue28_planted_values_are_gone_and_opinions_stay(tmp_path, settings, fmt):
    from opinion.collect.partitions import collect_file
    from opinion.sources.files import FileSourceConfig

    rows = _rows()
    if fmt == "jsonl":
        corpus = tmp_path / "planted.jsonl"
        corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    else:
        corpus = tmp_path / "planted.parquet"
        good = [{**r, "extra": json.dumps(r.get("extra"))} for r in rows[:-1]]
        pq.write_table(pa.Table.from_pylist(good), corpus)
    mapping = {"native_id": "id", "text": "body", "created_at": "created", "url": "link"}
    report = collect_file(settings, FileSourceConfig(corpus, "planted", mapping))
    assert report.posts == 14
    hay = _haystack(settings.lake_dir)
    leaked = {v: c for v, c in PLANTED.items() if v.lower() in hay.lower()}
    assert not leaked, leaked
    for kept in KEPT:
        assert kept in hay, kept
    assert "twitter.com/i/status/" in hay
