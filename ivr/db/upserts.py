"""The store's insert-or-update statements: a table of them by name, built once per dialect.

SQLite and PostgreSQL write a call's facts and a counselor's 1 in one statement each; other
databases have none here (`statement` answers None) and their callers look, then write.
"""
from __future__ import annotations

from difflib import get_close_matches

from sqlalchemy import DateTime, Integer, String, bindparam, case, exists, func, or_
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from ivr.db.schema import calls, events, screens
from ivr.outcome import TRANSFER

# The dialects that can insert-or-update in one statement, by SQLAlchemy's name for them.
DIALECTS = {"sqlite": sqlite_dialect, "postgresql": postgresql_dialect}


def _sid():
    """The CallSid a statement writes for."""
    return bindparam("b_sid", type_=String(64))


def _at():
    """When the fact was noted."""
    return bindparam("b_at", type_=DateTime(timezone=True))


def _key():
    """The caller's keyed HMAC."""
    return bindparam("b_caller_key", type_=String(64))


def _started(dialect):
    """A call started: a record another fact made first (its batch written sooner) takes the real start."""
    query = dialect.insert(calls).values(call_sid=_sid(), started_at=_at(), caller_key=_key(), transferred=False)
    return query.on_conflict_do_update(index_elements=["call_sid"], set_={
        "started_at": case((query.excluded.started_at < calls.c.started_at, query.excluded.started_at),
                           else_=calls.c.started_at),
        "caller_key": func.coalesce(calls.c.caller_key, query.excluded.caller_key)})


def _transferred(dialect):
    """A call was put through to a counselor."""
    query = dialect.insert(calls).values(call_sid=_sid(), started_at=_at(), transferred=True)
    return query.on_conflict_do_update(index_elements=["call_sid"], set_={"transferred": True})


def _ended(dialect):
    """A call ended: its status and length, and whether any of its events asked for a transfer."""
    sid, at = _sid(), _at()
    asked = exists().where(events.c.call_sid == sid, events.c.outcome.like(TRANSFER + "%"))
    query = dialect.insert(calls).values(
        call_sid=sid, started_at=at, ended_at=at, caller_key=_key(),
        status=bindparam("b_status", type_=String(32)), duration=bindparam("b_duration", type_=Integer),
        transferred=asked)
    return query.on_conflict_do_update(index_elements=["call_sid"], set_={
        "ended_at": query.excluded.ended_at, "status": query.excluded.status,
        "duration": query.excluded.duration,
        "caller_key": func.coalesce(calls.c.caller_key, query.excluded.caller_key),
        "transferred": or_(calls.c.transferred, query.excluded.transferred)})


def _accepted(dialect):
    """A counselor's 1, kept once (the first press counts)."""
    return dialect.insert(screens).on_conflict_do_nothing(index_elements=["call_sid"])


UPSERTS = {"started": _started, "transferred": _transferred, "ended": _ended, "accepted": _accepted}


class UnknownStatement(LookupError):
    """A statement name the table does not hold: a slip in the line's own code, said at once."""


def build(module, name: str):
    """Build the named statement for a dialect module (sqlite, postgresql); UnknownStatement for any other name."""
    return _builder(name)(module)


def _builder(name: str):
    """The function that builds the named statement; UnknownStatement, with the names there are, if none."""
    builder = UPSERTS.get(name)
    if builder is None:
        near = get_close_matches(name, UPSERTS, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise UnknownStatement(f"ivr.db.upserts has no statement named {name!r}; {hint}"
                               f"it has {', '.join(UPSERTS)} (add one to UPSERTS).")
    return builder


def dialect(conn):
    """SQLAlchemy's dialect module for this store when it can insert-or-update in one statement, else None."""
    return DIALECTS.get(conn.dialect.name)


def statement(conn, name: str):
    """The named statement for this store, built once and kept (then found compiled); None without upserts."""
    module = dialect(conn)
    if module is None:
        _builder(name)  # an unknown name is refused on every database, not only where upserts exist
        return None
    key = (conn.dialect.name, name)
    found = _built.get(key)
    if found is None:
        found = _built[key] = build(module, name)
    return found


_built: dict = {}
