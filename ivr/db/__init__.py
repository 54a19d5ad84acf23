"""The line's store: calls, call events, screened answers and callback requests.

SQLAlchemy Core over one DATABASE_URL: SQLite by default, PostgreSQL for replicas. A store
that is down never breaks a call: every write from a webhook is tried, and a failure is
counted, said in the log at most once a minute (without the caller's number) and shown on
/healthz, while the call goes on. A DATABASE_URL the line cannot use stops it at start-up.

One noun per module; `from ivr import db` gives the names the rest of the line uses:

- schema: the tables, the statuses they keep, times in UTC
- connection: DATABASE_URL to an engine (StoreError when unusable), the doctor's scratch write
- gate: SQLite's writers one at a time, each let in the moment the last one is done
- upserts: the insert-or-update statements by name and dialect (an unknown name is refused)
- facts: a call's record from facts noted in any order
- writer: the events writer (EventSink), a background thread off the webhook's path
- screening: a counselor's 1
- callback_requests: a caller's message as a callback request
- retention: purging what is older than the line keeps
- storage: the resilient facade (Storage) webhooks and pages go through
"""
from ivr.db.schema import (CALL_STATUSES, CALLBACK_PROGRESS, CALLBACK_STATUSES, ENDED_STATUSES, as_utc,
                           callbacks, calls, events, metadata, screens, utcnow)
from ivr.db.connection import StoreError, connect, scratch_write, shown_url, store_url
from ivr.db.writer import EventSink
from ivr.db.screening import mark_accepted, was_accepted
from ivr.db.callback_requests import (follow_call, get_callback, list_callbacks, recording_done, save_callback,
                                      set_callback_status)
from ivr.db.retention import expiring_callbacks, purge
from ivr.db.storage import KINDS, LOOK_EVERY, SAY_EVERY, Storage, StoreDown, reason

__all__ = ["CALL_STATUSES", "CALLBACK_PROGRESS", "CALLBACK_STATUSES", "ENDED_STATUSES", "as_utc", "callbacks",
           "calls", "events", "metadata", "screens", "utcnow", "StoreError", "connect", "scratch_write",
           "shown_url", "store_url", "EventSink", "mark_accepted", "was_accepted", "follow_call",
           "get_callback", "list_callbacks", "recording_done", "save_callback", "set_callback_status",
           "expiring_callbacks", "purge", "KINDS", "LOOK_EVERY", "SAY_EVERY", "Storage", "StoreDown", "reason"]
