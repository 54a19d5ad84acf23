"""The store's statement table: every name builds on SQLite and PostgreSQL, an unknown name is refused."""
import pytest
from sqlalchemy.dialects import postgresql, sqlite

from ivr import db
from ivr.db import upserts


@pytest.mark.parametrize("module", [sqlite, postgresql], ids=["sqlite", "postgresql"])
def test_every_statement_in_the_table_builds_and_compiles(module):
    for name in upserts.UPSERTS:
        compiled = str(upserts.build(module, name).compile(dialect=module.dialect()))
        assert compiled.startswith("INSERT INTO") and "ON CONFLICT" in compiled, name


@pytest.mark.parametrize("module", [sqlite, postgresql], ids=["sqlite", "postgresql"])
def test_an_unknown_statement_name_is_refused_with_the_names_there_are(module):
    with pytest.raises(upserts.UnknownStatement) as refused:
        upserts.build(module, "acceptd")
    assert str(refused.value) == ("ivr.db.upserts has no statement named 'acceptd'; did you mean 'accepted'? "
                                  "it has started, transferred, ended, accepted (add one to UPSERTS).")


def test_a_name_nothing_like_one_in_the_table_gets_no_guess():
    with pytest.raises(upserts.UnknownStatement, match=r"^ivr.db.upserts has no statement named 'x'; it has "):
        upserts.build(sqlite, "x")


def test_a_store_refuses_an_unknown_name_and_writes_nothing(database_url):
    engine = db.connect(database_url)
    try:
        with engine.connect() as conn:
            assert upserts.statement(conn, "accepted") is not None
            with pytest.raises(upserts.UnknownStatement, match="no statement named 'ended_call'"):
                upserts.statement(conn, "ended_call")
    finally:
        engine.dispose()


def test_a_store_without_upserts_refuses_an_unknown_name_too(tmp_path, monkeypatch):
    monkeypatch.setattr(upserts, "dialect", lambda conn: None)  # as on a database with no insert-or-update
    engine = db.connect(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as conn:
        assert upserts.statement(conn, "started") is None  # its caller looks, then writes
        with pytest.raises(upserts.UnknownStatement):
            upserts.statement(conn, "strated")
    engine.dispose()
