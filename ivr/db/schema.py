"""The store's tables (calls, call events, screened answers, callback requests), their statuses and times.

Staff tables (accounts, sessions, the audit trail, sign-in failures, dialed legs) join the same
`metadata` from their own modules, so that `connect` creates every table the line uses.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text

metadata = MetaData()

# Twilio's call statuses (CallStatus): what a call's record keeps when the call ends ("unknown"
# for any other word). The last five are the ends of a call, counted on /metrics.
CALL_STATUSES = ("queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled")
ENDED_STATUSES = CALL_STATUSES[3:]

# A callback request's status: staff set these (the list, `ivr callbacks done`)...
CALLBACK_STATUSES = ("new", "called_back", "closed")
# ...and a call-back the helpline places through Twilio sets these as it goes.
CALLBACK_PROGRESS = ("calling", "talked", "no_answer")

calls = Table(
    "calls", metadata,
    Column("call_sid", String(64), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("status", String(32)),  # one of CALL_STATUSES, or "unknown"
    Column("duration", Integer),
    Column("transferred", Boolean, default=False),
    Column("caller_key", String(64)),  # keyed HMAC of the caller's number, never the number
)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("call_sid", String(64), index=True),
    Column("node", String(64)),
    Column("input_kind", String(16)),
    Column("lang", String(8)),
    Column("after_hours", Boolean),
    Column("outcome", String(64)),
)

screens = Table(
    "screens", metadata,
    Column("call_sid", String(64), primary_key=True),  # the caller's call (parent leg)
    Column("accepted_at", DateTime(timezone=True), nullable=False),
)

callbacks = Table(
    "callbacks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("updated_at", DateTime(timezone=True)),
    Column("call_sid", String(64), index=True),
    Column("caller", String(32)),  # the number staff call back: health information
    Column("lang", String(8)),
    Column("path", Text),
    Column("recording_url", Text),
    Column("recording_seconds", Integer),
    Column("status", String(16), nullable=False, default="new"),  # CALLBACK_STATUSES or CALLBACK_PROGRESS
)


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(timezone.utc)


def as_utc(when: datetime) -> datetime:
    """A stored time as an aware UTC time (SQLite hands them back without a zone)."""
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
