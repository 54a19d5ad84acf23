"""A counselor's screened answer: the 1 that takes a caller's call, kept once."""
from __future__ import annotations

from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Engine

from ivr.db import upserts
from ivr.db.schema import screens, utcnow

_ACCEPTED = select(screens.c.call_sid).where(screens.c.call_sid == bindparam("b_sid"))


def mark_accepted(engine: Engine, call_sid: str) -> None:
    """Remember that a counselor pressed 1 to take this call (the first press counts)."""
    row = {"call_sid": call_sid, "accepted_at": utcnow()}
    with engine.begin() as conn:
        query = upserts.statement(conn, "accepted")
        if query is not None:  # one statement where the store can insert-or-ignore
            conn.execute(query, row)
        elif conn.execute(_ACCEPTED, {"b_sid": call_sid}).first() is None:
            conn.execute(insert(screens), row)


def was_accepted(engine: Engine, call_sid: str) -> bool:
    """Whether a counselor pressed 1 to take this call."""
    with engine.connect() as conn:
        return conn.execute(_ACCEPTED, {"b_sid": call_sid}).first() is not None
