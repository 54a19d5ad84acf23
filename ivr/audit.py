"""The audit trail: who viewed, listened to or changed what, when, and from where.

An append-only table in the line's store: the code only ever inserts into it, and `ivr
purge` removes entries only past their own retention (RETENTION_DAYS, six years, the
time HIPAA asks a covered entity to keep its documentation), however short the callbacks'.

    audit.record(who, action, what, where)   # e.g. ("maria", "listen", "callback 12", "203.0.113.9")
"""
from __future__ import annotations

import getpass
import logging
import socket
from datetime import datetime, timedelta

from flask import g
from sqlalchemy import Column, DateTime, Integer, String, Table, delete, event, insert, select
from sqlalchemy.engine import Engine

from ivr import db, parts

log = logging.getLogger("ivr.audit")

trail = Table(
    "audit_trail", db.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("who", String(64), nullable=False, index=True),
    Column("action", String(32), nullable=False),
    Column("what", String(200), nullable=False),
    Column("place", String(100), nullable=False),  # an address, or "command line on HOST"
)

RETENTION_DAYS = 6 * 365

# The database itself keeps the trail append-only: no entry can be changed, and none deleted
# before its retention has passed, whoever holds a connection.
_GUARDS = {
    "sqlite": [
        "CREATE TRIGGER audit_trail_no_update BEFORE UPDATE ON audit_trail "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
        f"CREATE TRIGGER audit_trail_kept BEFORE DELETE ON audit_trail "
        f"WHEN OLD.at > datetime('now', '-{RETENTION_DAYS} days') "
        f"BEGIN SELECT RAISE(ABORT, 'audit entries are kept {RETENTION_DAYS} days'); END",
    ],
    "postgresql": [
        f"CREATE OR REPLACE FUNCTION audit_trail_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP IN ('UPDATE', 'TRUNCATE') THEN RAISE EXCEPTION 'the audit trail is append-only'; END IF; "
        f"IF OLD.at > now() - interval '{RETENTION_DAYS} days' THEN "
        f"RAISE EXCEPTION 'audit entries are kept {RETENTION_DAYS} days'; END IF; RETURN OLD; END $$",
        "CREATE TRIGGER audit_trail_guard BEFORE UPDATE OR DELETE ON audit_trail "
        "FOR EACH ROW EXECUTE FUNCTION audit_trail_guard()",
        "CREATE TRIGGER audit_trail_no_truncate BEFORE TRUNCATE ON audit_trail "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_trail_guard()",
    ],
}


@event.listens_for(trail, "after_create")
def _guard(target, connection, **_) -> None:
    """Add the append-only triggers when the table is made (SQLite and PostgreSQL)."""
    for statement in _GUARDS.get(connection.dialect.name, ()):
        connection.exec_driver_sql(statement)


def record(who: str, action: str, what: str, where: str, engine: Engine | None = None) -> None:
    """Append one entry. In a request, the app's store is used; a failure raises (callers refuse then)."""
    if engine is None:
        engine = parts.storage().engine
    row = {"at": db.utcnow(), "who": str(who)[:64], "action": str(action)[:32], "what": str(what)[:200],
           "place": str(where)[:100]}
    with engine.begin() as conn:
        conn.execute(insert(trail), row)


def here(action: str, what: str) -> None:
    """Record an action of the signed-in staff member of this request (see security.staff_gate)."""
    from ivr.security import client_address
    record(g.get("staff") or "?", action, what, client_address())


def written_here(action: str, what: str) -> bool:
    """Record an action of this request's staff member; False (and logged) when the trail can't be written.

    Callers refuse to show or do what cannot be recorded."""
    try:
        here(action, what)
        return True
    except Exception:
        log.exception("could not write the audit trail (%s: %s)", action, what)
        return False


def command_line_user() -> str:
    """Who made a command-line change: the operating-system user."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in a bare container
        return "?"


def command_line() -> str:
    """Where a command-line change came from: this host's command line."""
    return f"command line on {socket.gethostname()}"


def entries(engine: Engine, since: datetime | None = None, user: str | None = None) -> list[dict]:
    """Entries oldest first, optionally from a moment on and for one staff member."""
    query = select(trail).order_by(trail.c.at, trail.c.id)
    if since is not None:
        query = query.where(trail.c.at >= since)
    if user:
        query = query.where(trail.c.who == user)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def purge(engine: Engine, days: int = RETENTION_DAYS) -> int:
    """Delete entries older than the audit's own retention (never fewer days than RETENTION_DAYS)."""
    cutoff = db.utcnow() - timedelta(days=max(days, RETENTION_DAYS))
    with engine.begin() as conn:
        return conn.execute(delete(trail).where(trail.c.at < cutoff)).rowcount
