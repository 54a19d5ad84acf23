"""Password guessing slowed: after LIMIT failures for a name or from an address within WINDOW,
further tries are refused until the oldest of them is WINDOW old.

Failures are rows in the line's store, so the limit holds across workers and replicas.
"""
from __future__ import annotations

import logging
import math
from datetime import timedelta

from prometheus_client import Counter
from sqlalchemy import Column, DateTime, Integer, String, Table, delete, insert, select
from sqlalchemy.engine import Engine

from ivr import db

log = logging.getLogger("ivr.lockout")
LIMIT = 5
WINDOW = timedelta(minutes=15)

failures = Table(
    "staff_login_failures", db.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("name", String(64), nullable=False, index=True),
    Column("address", String(64), nullable=False, index=True),
)

SIGN_INS = Counter("ivr_staff_sign_ins_total", "Staff sign-in attempts (form or HTTP Basic), by result: "
                   "ok, failed, or locked (refused after too many failures).", ["result"])


def wait(engine: Engine, name: str, address: str) -> int:
    """Seconds until this name and address may try again; 0 when they may try now."""
    now = db.utcnow()
    longest = 0
    for column, value in ((failures.c.name, name[:64]), (failures.c.address, address[:64])):
        with engine.connect() as conn:
            times = conn.execute(select(failures.c.at).where(column == value, failures.c.at > now - WINDOW)
                                 .order_by(failures.c.at.desc()).limit(LIMIT)).scalars().all()
        if len(times) >= LIMIT:  # free again once the LIMIT-th most recent failure leaves the window
            longest = max(longest, math.ceil((db.as_utc(times[-1]) + WINDOW - now).total_seconds()))
    return max(longest, 0)


def failed(engine: Engine, name: str, address: str) -> None:
    """Count one failed try, and forget failures older than the window."""
    now = db.utcnow()
    with engine.begin() as conn:
        conn.execute(insert(failures).values(at=now, name=name[:64], address=address[:64]))
        conn.execute(delete(failures).where(failures.c.at < now - WINDOW))


def lift(engine: Engine, name: str) -> int:
    """Forget a name's failed tries, so it may sign in at once; return how many were forgotten."""
    with engine.begin() as conn:
        return conn.execute(delete(failures).where(failures.c.name == name[:64])).rowcount


def refused(name: str, address: str, seconds: int) -> None:
    """Note a try refused because of earlier failures: counted and logged (never the password)."""
    SIGN_INS.labels("locked").inc()
    log.warning("staff sign-in refused for %r from %s: %d failures within %d minutes; free again in %d s",
                name[:64], address, LIMIT, WINDOW.seconds // 60, seconds)


def counted(result: str, name: str, address: str) -> None:
    """Count a sign-in's result; log a failure (never the password)."""
    SIGN_INS.labels(result).inc()
    if result == "failed":
        log.warning("staff sign-in failed for %r from %s", name[:64], address)

