"""How long the store keeps things: old callback requests, calls, events and screened answers purged."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from ivr.db.schema import callbacks, calls, events, screens, utcnow


def purge(engine: Engine, days: int, callback_ids=None, dry_run: bool = False) -> dict:
    """Delete callbacks, calls, events and screens older than a number of days (0: up to now).

    callback_ids: delete just these callback requests (those whose recordings are gone from
    Twilio), not every old one. dry_run: count what would go, and keep it.
    """
    cutoff = utcnow() - timedelta(days=days)
    old_callbacks = callbacks.c.created_at < cutoff
    if callback_ids is not None:
        old_callbacks = callbacks.c.id.in_(list(callback_ids) or [-1])
    with engine.connect() as conn:
        with conn.begin() as transaction:
            counts = {
                "callbacks": conn.execute(delete(callbacks).where(old_callbacks)).rowcount,
                "events": conn.execute(delete(events).where(events.c.at < cutoff)).rowcount,
                "calls": conn.execute(delete(calls).where(calls.c.started_at < cutoff)).rowcount,
                "screens": conn.execute(delete(screens).where(screens.c.accepted_at < cutoff)).rowcount,
            }
            if dry_run:
                transaction.rollback()
        return counts


def expiring_callbacks(engine: Engine, days: int) -> list[dict]:
    """Callback requests older than a number of days (0: up to now), oldest first."""
    cutoff = utcnow() - timedelta(days=days)
    query = select(callbacks).where(callbacks.c.created_at < cutoff).order_by(callbacks.c.created_at)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
