"""Brand list loading and linking, including ambiguous words and malformed files."""

from pathlib import Path

import pytest

from opinion.clean import Brand, BrandList, redact

BRANDS_FILE = Path(__file__).resolve().parents[2] / "data" / "brands" / "airlines.yaml"
AIRLINES = ["Virgin America", "United", "Southwest", "Delta", "US Airways", "American", "JetBlue"]


@pytest.fixture(scope="module")
def brands() -> BrandList:
    return BrandList.load(BRANDS_FILE)


def test_airlines_file(brands):
    assert brands.names == AIRLINES
    assert brands.domain == "airline" and brands.version is not None
    expected = {"united", "americanair", "americanairlines", "southwestair", "jetblue"}
    assert expected <= brands.handles
    assert all(h == h.lower() and not h.startswith("@") for h in brands.handles)
    for name in AIRLINES:
        assert sorted(brands.competitors(name)) == sorted(set(AIRLINES) - {name})
    assert isinstance(brands.get("United"), Brand)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@united my bag is lost", "United"),
        ("@UNITED my bag is lost", "United"),
        ("thanks @VirginAmerica!", "Virgin America"),
        ("@unitedairlines hello", "United"),  # listed handle
        ("@united_fan @unitedfan hello", None),  # look-alike handles are not the brand
        ("email me at me@united.com", None),
        ("@united why can't you be more like @JetBlue", "United"),  # first by position
        ("@JetBlue is better than @united", "JetBlue"),
        ("I prefer jetblue over @united", "United"),  # handles beat aliases
        ("Flew United Airlines yesterday", "United"),
        ("flew american  airlines", "American"),  # any whitespace inside an alias
        ("Delta and United both late", "Delta"),  # plain "united" is not an alias
        ("flew Southwest then JetBlue", "Southwest"),
        ("#JetBlue rocks", "JetBlue"),
        ("US Airways lost my bag", "US Airways"),
        ("visiting the United States", None),
        ("American citizens need a visa", None),
        ("Manchester United won", None),
        ("https://t.co/delta-southwest ok", None),  # aliases inside URLs do not count
        ("deltas and southwestern food", None),  # word boundaries
        ("", None),
        ("😀😀", None),
        ("'; DROP TABLE posts; --", None),
    ],
)
def test_link(brands, text, expected):
    assert brands.link(text) == expected


def test_link_one_megabyte(brands):
    text = "nothing to see here " * 50_000 + " @JetBlue"
    assert brands.link(text) == "JetBlue"


def test_brand_handles_as_redaction_keep_list(brands):
    out = redact("@united @AmericanAirlines @joe_bloggs", brands.handles)
    assert out == "@united @AmericanAirlines @user"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "brands.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("brands: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "mapping"),
        ("version: 1\n", "'brands' must be a non-empty list"),
        ("brands:\n  - handles: [x]\n", "'name'"),
        ("brands:\n  - name: A\n", "at least one handle or alias"),
        ("brands:\n  - name: A\n    handles: ['not a handle']\n", "not a valid @handle"),
        ("brands:\n  - name: A\n    handles: x\n    aliases: [1]\n", "'aliases'"),
        ("brands:\n  - name: A\n    handles: [a]\n    colour: red\n", "unknown key"),
        ("brands:\n  - {name: A, handles: [a]}\n  - {name: A, handles: [b]}\n", "twice"),
        ("brands:\n  - {name: A, handles: [a]}\n  - {name: B, handles: [A]}\n", "two brands"),
        ("brands:\n  - {name: A, handles: [a], competitors: [Z]}\n", "unknown competitor 'Z'"),
    ],
)
def test_malformed_file_gives_one_line_error(tmp_path, content, problem):
    path = _write(tmp_path, content)
    with pytest.raises(ValueError, match="brands.yaml") as info:
        BrandList.load(path)
    message = str(info.value)
    assert problem in message
    assert "\n" not in message


def test_explicit_competitors(tmp_path):
    path = _write(
        tmp_path,
        "brands:\n  - {name: A, handles: [a], competitors: [B]}\n"
        "  - {name: B, aliases: [bee co]}\n  - {name: C, handles: [c]}\n",
    )
    brands = BrandList.load(path)
    assert brands.competitors("A") == ["B"]
    assert brands.competitors("B") == ["A", "C"]
    assert brands.link("I like Bee  Co") == "B"
