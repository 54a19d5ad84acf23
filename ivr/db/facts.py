"""A call's record in the calls table, written from facts noted in any order.

A call's steps land in different gunicorn workers, each of which writes what it noted in its
own batches: whichever batch comes first, the record comes out the same.
"""
from __future__ import annotations

from sqlalchemy import insert, select, update

from ivr.db import upserts
from ivr.db.schema import as_utc, calls, events
from ivr.outcome import TRANSFER

# What EventSink.note takes: "started" (with caller_key), "transferred", "ended" (with status,
# duration, caller_key).
CALL_FACTS = ("started", "transferred", "ended")
NOTED = {"started": "a new call", "transferred": "a transfer", "ended": "how a call ended"}  # for the log


def write(conn, fact: str, rows: list) -> None:
    """Write facts of one kind (see EventSink.note) into the calls table, in any order across batches."""
    query = upserts.statement(conn, fact)
    if query is not None:  # one insert-or-update statement for all the rows
        conn.execute(query, rows)
        return
    for row in rows:  # other databases: look, then insert or update
        _write_one(conn, fact, row)


def _write_one(conn, fact: str, row: dict) -> None:
    """Write one fact into the calls table with plain statements (databases without upserts)."""
    sid, at = row["b_sid"], row["b_at"]
    found = conn.execute(select(calls).where(calls.c.call_sid == sid)).first()
    values: dict = {}
    if fact == "started":
        values = {"started_at": min(at, as_utc(found.started_at)) if found else at,
                  "caller_key": (found.caller_key if found else None) or row["b_caller_key"]}
    elif fact == "transferred":
        values = {"transferred": True}
    elif fact == "ended":
        asked = conn.execute(select(events.c.id).where(
            events.c.call_sid == sid, events.c.outcome.like(TRANSFER + "%"))).first() is not None
        values = {"ended_at": at, "status": row["b_status"], "duration": row["b_duration"],
                  "transferred": bool(found and found.transferred) or asked,
                  "caller_key": (found.caller_key if found else None) or row["b_caller_key"]}
    if found:
        conn.execute(update(calls).where(calls.c.call_sid == sid).values(**values))
    else:
        conn.execute(insert(calls).values(call_sid=sid, **{"started_at": at, "transferred": False, **values}))
