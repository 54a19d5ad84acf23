"""The counselor legs the line itself dialed: a screened "1" counts only for one of them.

Twilio asks the whisper URL on each leg a <Dial> of ours rings (CallSid: the leg,
ParentCallSid: the caller's call); the line notes the pair then. A screened answer for a leg
it never whispered to, or for another caller's call, is not a counselor taking that call.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Column, DateTime, String, Table, delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from ivr import db

legs = Table(
    "dialed_legs", db.metadata,
    Column("leg_sid", String(64), primary_key=True),
    Column("parent_sid", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
)


def note(engine: Engine, leg: str, parent: str) -> None:
    """Remember that the line rang this leg for this caller's call (the first note counts)."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(legs).values(leg_sid=leg, parent_sid=parent, at=db.utcnow()))
    except IntegrityError:  # Twilio asked the whisper twice: already noted
        pass


def dialed(engine: Engine, leg: str, parent: str) -> bool:
    """Whether the line rang this leg for this caller's call."""
    with engine.connect() as conn:
        return conn.execute(select(legs.c.leg_sid).where(legs.c.leg_sid == leg,
                                                         legs.c.parent_sid == parent)).first() is not None


def purge(engine: Engine, days: int) -> int:
    """Forget legs older than a number of days."""
    with engine.begin() as conn:
        return conn.execute(delete(legs).where(legs.c.at < db.utcnow() - timedelta(days=days))).rowcount
