from opinion.warehouse.migrate import applied_versions, connect, migrations


def test_migrations_apply_once(tmp_path):
    path = tmp_path / "w.duckdb"
    con = connect(path)
    first = applied_versions(con)
    assert first == [m.version for m in migrations()]
    con.execute("INSERT INTO source_state VALUES ('s', 'k', 'c', now())")
    con.close()
    con = connect(path)  # second open: nothing re-applied, data kept
    assert applied_versions(con) == first
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(first)
    assert con.execute("SELECT count(*) FROM source_state").fetchone()[0] == 1
    con.close()


def test_read_only_does_not_migrate(tmp_path):
    path = tmp_path / "w.duckdb"
    connect(path).close()
    con = connect(path, read_only=True)
    assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 0
    con.close()


def test_cursor_helpers(tmp_path):
    from opinion.warehouse import get_cursor, set_cursor

    con = connect(tmp_path / "w.duckdb")
    assert get_cursor(con, "twitter", "since_id") is None
    set_cursor(con, "twitter", "since_id", "10")
    set_cursor(con, "twitter", "since_id", "20")
    set_cursor(con, "reddit", "since_id", "5")
    assert get_cursor(con, "twitter", "since_id") == "20"
    assert get_cursor(con, "reddit", "since_id") == "5"
    assert con.execute("SELECT count(*) FROM source_state").fetchone()[0] == 2
    con.close()
