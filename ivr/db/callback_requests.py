"""Callback requests: a caller's message, stored from the webhooks, listed and followed by staff."""
from __future__ import annotations

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Engine

from ivr.db.schema import CALLBACK_STATUSES, callbacks, utcnow

# Built once: SQLAlchemy then finds them compiled, while the caller waits to hear "thank you".
_THIS_MESSAGE = ((callbacks.c.call_sid == bindparam("b_sid"))
                 & (callbacks.c.recording_url == bindparam("b_url")))
_SET_CALLER = update(callbacks).where(_THIS_MESSAGE).values(caller=bindparam("b_caller"))
_SET_LENGTH = update(callbacks).where(_THIS_MESSAGE).values(
    recording_seconds=bindparam("b_seconds"), updated_at=bindparam("b_at"))


def save_callback(engine: Engine, call_sid: str, caller: str, lang: str, path: str,
                  recording_url: str | None, seconds: int | None) -> bool:
    """Store a voicemail as a callback request (or complete the one its status callback made); True once stored."""
    with engine.begin() as conn:
        found = conn.execute(_SET_CALLER, {"b_sid": call_sid, "b_url": recording_url, "b_caller": caller})
        if not found.rowcount:
            _new_callback(conn, call_sid=call_sid, caller=caller, lang=lang, path=path,
                          recording_url=recording_url, recording_seconds=seconds)
    return True


def recording_done(engine: Engine, call_sid: str, recording_url: str, seconds: int | None,
                   lang: str = "", path: str = "") -> None:
    """Fill in a finished recording's length (the recording status callback).

    If the Record action could not store the request (the store was down then, or this
    callback came first), keep the message anyway: staff hear the number in the message.
    """
    with engine.begin() as conn:
        done = conn.execute(_SET_LENGTH, {"b_sid": call_sid, "b_url": recording_url, "b_seconds": seconds,
                                          "b_at": utcnow()})
        if not done.rowcount:
            _new_callback(conn, call_sid=call_sid, lang=lang, path=path, recording_url=recording_url,
                          recording_seconds=seconds)


def _new_callback(conn, **values) -> None:
    """Insert a new callback request."""
    conn.execute(insert(callbacks), {"created_at": utcnow(), "status": "new", **values})


def list_callbacks(engine: Engine, status: str | None = None) -> list[dict]:
    """Callback requests, newest first, optionally only those with one status."""
    query = select(callbacks).order_by(callbacks.c.created_at.desc(), callbacks.c.id.desc())
    if status:
        query = query.where(callbacks.c.status == status)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def set_callback_status(engine: Engine, callback_id: int, status: str) -> bool:
    """Change a callback request's status; return whether it existed."""
    if status not in CALLBACK_STATUSES:
        raise ValueError(f"status must be one of {', '.join(CALLBACK_STATUSES)}")
    with engine.begin() as conn:
        done = conn.execute(update(callbacks).where(callbacks.c.id == callback_id)
                            .values(status=status, updated_at=utcnow()))
        return bool(done.rowcount)


def follow_call(engine: Engine, callback_id: int, status: str, only_from: tuple = ()) -> bool:
    """Set a callback's status as its call-back goes (CALLBACK_PROGRESS; only from `only_from`, when given)."""
    query = update(callbacks).where(callbacks.c.id == callback_id)
    if only_from:
        query = query.where(callbacks.c.status.in_(only_from))
    with engine.begin() as conn:
        return bool(conn.execute(query.values(status=status, updated_at=utcnow())).rowcount)


def get_callback(engine: Engine, callback_id: int) -> dict | None:
    """One callback request, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(callbacks).where(callbacks.c.id == callback_id)).first()
        return dict(row._mapping) if row else None
