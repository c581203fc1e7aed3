"""The verbatims exports (issue 26, finding 6): the workbook holds every post's text exactly
as stored, in cells typed as text (a formula stays a string); CSV and XLSX carry category,
touchpoint, polarity, rating and title; the CSV leaves "@mention" tweets alone but still
neutralises formulas."""

from __future__ import annotations

import csv
import io
import re

import duckdb
import pytest
from starlette.testclient import TestClient

from opinion.config import Settings
from opinion.serve.app import create_app
from opinion.serve.verbatims import csv_cell

from .ui_fixture import FORMULA_TEXT

COLUMNS = ("categories", "touchpoints", "polarity", "rating", "title", "text")


@pytest.fixture(scope="module")
def client(ui_warehouse):
    return TestClient(create_app(Settings.from_env(warehouse=ui_warehouse)))


def stored_texts(path, brand):
    with duckdb.connect(str(path), read_only=True) as con:
        return dict(
            con.execute("SELECT post_id, text FROM posts WHERE brand = ?", [brand]).fetchall()
        )


def test_xlsx_holds_the_tweets_text_unchanged(client, ui_warehouse):
    from openpyxl import load_workbook

    r = client.get("/verbatims.xlsx", params={"brand": "United"})
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    assert 'filename="verbatims-United.xlsx"' in r.headers["content-disposition"]
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = list(ws.iter_rows())
    header = [c.value for c in rows[0]]
    assert set(COLUMNS) <= set(header)
    pid, text = header.index("post_id"), header.index("text")
    stored = stored_texts(ui_warehouse, "United")
    csv_posts = client.get("/verbatims.csv", params={"brand": "United"}).text
    assert len(rows) - 1 == len(list(csv.reader(io.StringIO(csv_posts)))) - 1 > 100
    for row in rows[1:]:
        assert row[text].value == stored[row[pid].value]  # no `'`, nothing cut or escaped
        assert row[text].data_type == "s"
    formula = [row for row in rows[1:] if row[text].value == FORMULA_TEXT]
    assert formula and formula[0][text].data_type == "s"  # a string, never a formula
    at = [row for row in rows[1:] if row[text].value.startswith("@")]
    assert len(at) > 50  # the tweets that the CSV used to damage


def test_csv_keeps_mentions_and_neutralises_formulas(client, ui_warehouse):
    r = client.get("/verbatims.csv", params={"brand": "United", "touchpoint": "baggage"})
    rows = list(csv.reader(io.StringIO(r.text)))
    header, body = rows[0], rows[1:]
    assert set(COLUMNS) <= set(header)
    stored = stored_texts(ui_warehouse, "United")
    text, pid = header.index("text"), header.index("post_id")
    plain = [row for row in body if row[text] == stored[row[pid]]]
    assert any(row[text].startswith("@united") for row in plain)
    assert "baggage" in {t for row in body for t in row[header.index("touchpoints")].split("; ")}
    assert all(row[header.index("polarity")] in ("positive", "negative", "neutral") for row in body)


@pytest.mark.parametrize(
    ("value", "neutralised"),
    [("@united lost my bag", False), ("@SUM(1+1)*cmd|' /C calc'!A0", True),
     ("@cmd|' /C calc'!A0", True), ("=1+1", True), ("-2", True), ("plain", False)],
)  # fmt: skip
def test_csv_cell(value, neutralised):
    assert csv_cell(value) == ("'" + value if neutralised else value)


def test_trends_by_month_plot_months_with_the_year(client):
    r = client.get("/trends", params={"brand": "United", "grain": "month"})
    assert r.status_code == 200 and "Monthly net sentiment" in r.text
    assert "Feb 2015" in r.text
    link = re.search(r'href="(/verbatims\?[^"]*from=2015-02-[^"]*)"', r.text).group(1)
    assert "to=2015-02-2" in link  # the month, clamped to the data's last day
    assert 'value="month" selected' in r.text
