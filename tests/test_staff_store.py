"""Accounts, sessions, lockout, the audit trail and dialed legs on each store (SQLite, PostgreSQL)."""
from datetime import timedelta

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from ivr import accounts, audit, db, legs, lockout, sessions


@pytest.fixture
def engine(database_url):
    engine = db.connect(database_url)
    yield engine
    with engine.begin() as conn:  # PostgreSQL's database lives for the session: leave it empty
        for table in (sessions.sessions, accounts.accounts, lockout.failures, legs.legs):
            conn.execute(table.delete())
        conn.exec_driver_sql("DROP TABLE audit_trail")  # its entries cannot be deleted, by design
    engine.dispose()


def test_accounts_and_their_sessions(engine):
    assert accounts.bootstrap(engine, None) is False
    accounts.add(engine, "Maria", "a long staff passphrase", "+1 (555) 222-0101")
    with pytest.raises(accounts.AccountError, match="already an account 'maria'"):
        accounts.add(engine, "maria", "another long passphrase")
    assert accounts.phone_of(engine, "maria") == "+15552220101"
    assert accounts.verify(engine, "maria", "a long staff passphrase") == "maria"
    assert accounts.verify(engine, "maria", "A long staff passphrase") is None
    assert accounts.verify(engine, "nobody", "a long staff passphrase") is None
    assert accounts.verify(engine, "../x", "a long staff passphrase") is None
    assert accounts.bootstrap(engine, "the old shared one") is False  # accounts exist: no 'staff'
    first, second = sessions.start(engine, "maria"), sessions.start(engine, "maria")
    assert first != second
    accounts.set_password(engine, "maria", "a brand new passphrase")
    with engine.connect() as conn:
        assert conn.execute(sessions.sessions.select()).first() is None
    sessions.start(engine, "maria")
    accounts.remove(engine, "maria")
    with engine.connect() as conn:
        assert conn.execute(sessions.sessions.select()).first() is None
    assert accounts.count(engine) == 0
    assert accounts.bootstrap(engine, "the old shared one") is True
    assert accounts.verify(engine, "staff", "the old shared one") == "staff"


def test_lockout_counts_per_name_and_per_address_within_the_window(engine):
    for n in range(4):
        lockout.failed(engine, "maria", f"198.51.100.{n}")
    assert lockout.wait(engine, "maria", "198.51.100.9") == 0
    lockout.failed(engine, "maria", "198.51.100.4")
    assert 890 <= lockout.wait(engine, "maria", "198.51.100.9") <= 900
    assert lockout.wait(engine, "sam", "198.51.100.9") == 0
    with engine.begin() as conn:  # the oldest failure leaves the window: a try is free again
        conn.execute(update(lockout.failures).where(lockout.failures.c.address == "198.51.100.0")
                     .values(at=db.utcnow() - lockout.WINDOW - timedelta(seconds=1)))
    assert lockout.wait(engine, "maria", "198.51.100.9") == 0


def test_the_audit_trail_and_dialed_legs(engine):
    audit.record("maria", "listen", "callback 3", "198.51.100.1", engine)
    audit.record("sam", "view callbacks", "2 shown", "198.51.100.2", engine)
    assert [e["who"] for e in audit.entries(engine)] == ["maria", "sam"]
    assert [e["action"] for e in audit.entries(engine, user="sam")] == ["view callbacks"]
    assert audit.entries(engine, since=db.utcnow() + timedelta(minutes=1)) == []
    assert audit.purge(engine, 0) == 0  # never younger than its own retention
    for change in (update(audit.trail).values(who="nobody"), delete(audit.trail)):
        with pytest.raises(DBAPIError, match="append-only|are kept"), engine.begin() as conn:
            conn.execute(change)  # nor by anyone with a connection: the database refuses
    assert [e["who"] for e in audit.entries(engine)] == ["maria", "sam"]
    leg, parent = "CA" + "1" * 32, "CA" + "2" * 32
    legs.note(engine, leg, parent)
    legs.note(engine, leg, parent)  # Twilio asked twice: one note
    assert legs.dialed(engine, leg, parent) and not legs.dialed(engine, leg, "CA" + "3" * 32)
