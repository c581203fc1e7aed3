"""Issue #28, over-redaction: what is not personal data stays readable, what is still goes.

Values are this file's own (not the demo corpus, not the planted suites). Precision on the
demo corpus is measured by benchmarks/redaction_precision.py (docs/hardening.md).
"""

from __future__ import annotations

import pytest

from .conftest import assert_kept_and_gone

KEEP_HANDLES = ["delta", "SouthwestAir", "TurkishAirlines", "Norwegian"]

KEPT = [
    # places and things after a capitalised phrase: not a person
    ("@delta the lounge at Orlando Sanford Intl Airport was filthy", "Orlando Sanford Intl"),
    ("@delta I will miss Boise flight 22 tomorrow, nobody helps", "miss Boise flight"),
    ("@delta loved the new Tampa-Havana route, great crew", "Tampa-Havana route"),
    ("@delta Major miss. Unhelpful crew on board", "Unhelpful crew"),
    # abbreviations, codes, sentence-initial common words
    ("@delta Cust Rel never answered. Bad Svc Dept as always", "Cust Rel"),
    ("@delta pls hold DL2212 for 4 pax frm DL471, we are running", "frm DL471"),
    ("Great RT @delta: new seats on the A321neo", "Great RT"),
    # organisations' handles, times, role mailboxes, toll-free lines
    ("@delta @TurkishAirlines and @Norwegian were cheaper", "@Norwegian"),
    ("@delta landed @4:45 and the bags came @6", "@4:45"),
    ("@delta the Marriott shuttle via @VisitTacoma was late", "@VisitTacoma"),
    ("@delta I wrote to feedback@airline.example and care@airline.example", "care@airline"),
    ("@delta I called 1-877-555-0148 for two hours", "1-877-555-0148"),
]

GONE = [
    ("@delta agent Wilhelmina Okonkwo was rude at the desk", "Okonkwo"),
    ("@delta Miss Haverford at gate B9 was lovely", "Haverford"),
    ("@delta Left Corinne Maddox alone at the gate for an hour", "Maddox"),
    ("@delta call me back at 646-555-0172 please", "646-555-0172"),
    ("@delta write to helga.strand@example.net with the voucher", "helga.strand"),
    ("@delta @kat_brewster78 lost her bag on DL88", "kat_brewster78"),
    ("@delta my cousin Osvaldo Quintanilla missed his Boise flight", "Quintanilla"),
]


@pytest.fixture(scope="module")
def redactor():
    from opinion.clean.privacy import Redactor

    return Redactor(KEEP_HANDLES, ["Delta", "Southwest", "seat", "crew", "lounge"])


@pytest.mark.slow
def test_not_personal_stays_and_personal_goes(redactor):
    assert_kept_and_gone(redactor, KEPT, GONE)


def test_org_handle_shapes_and_names_ending_in_air():
    from opinion.clean.not_personal import not_a_handle, org_handle

    assert org_handle("FrontierAir2") and org_handle("LSUgolf") and org_handle("ChicagoTribune")
    assert not org_handle("Blair") and not org_handle("Sinclair") and not org_handle("kaja_m")
    assert not_a_handle("10PM") and not_a_handle("unhelpful")
    assert not not_a_handle("rose") and not not_a_handle("jk_88")  # a first name, a person's


def test_role_mailboxes_and_toll_free():
    from opinion.clean.not_personal import role_email, toll_free

    assert role_email("customer-care@example.com") and role_email("noreply@x.example")
    assert not role_email("anna.k@example.com")
    assert toll_free("+1 (888) 555-0100") and toll_free("00 800 1234 5678")
    assert not toll_free("+1 312 555 0100") and not toll_free("0800 123 456")


def test_a_changed_author_salt_refuses_unless_new_salt(tmp_path, monkeypatch):
    """A1: the salt's fingerprint is kept beside the lake; another salt stops collect with one
    line, `--new-salt` records it and says so."""
    from click.testing import CliRunner

    from opinion.cli import main

    corpus = tmp_path / "posts.jsonl"
    corpus.write_text(
        '{"id": "a1", "body": "@delta the seat was broken", "created": "2024-03-02T10:00:00Z",'
        ' "user": "gwendolyn_p"}\n'
    )
    lake = tmp_path / "lake"
    mapping = '{"native_id":"id","text":"body","created_at":"created","author":"user"}'
    args = ["collect", "files", "--path", str(corpus), "--mapping", mapping, "--name", "t"]
    args += ["--lake", str(lake), "--warehouse", str(tmp_path / "wh" / "o.duckdb")]
    monkeypatch.setenv("OPINION_AUTHOR_SALT", "first-salt-of-mine")
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "fingerprint" in first.output and (lake / "state" / "salt.json").exists()
    stored = (lake / "state" / "salt.json").read_text()
    assert "first-salt-of-mine" not in stored

    corpus.write_text(corpus.read_text().replace("broken", "broken again"))  # a new read
    monkeypatch.setenv("OPINION_AUTHOR_SALT", "another-salt")
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code != 0
    assert "--new-salt" in refused.output and "Traceback" not in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    assert (lake / "state" / "salt.json").read_text() == stored

    accepted = CliRunner().invoke(main, [*args, "--new-salt"])
    assert accepted.exit_code == 0, accepted.output
    assert "new author salt recorded" in accepted.output
    assert (lake / "state" / "salt.json").read_text() != stored
