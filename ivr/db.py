"""The line's store: calls, call events, screened answers and callback requests.

SQLAlchemy Core over one DATABASE_URL: SQLite by default, PostgreSQL for replicas. A store
that is down never breaks a call: every write from a webhook is tried, and a failure is
logged (without the caller's number) while the call goes on.
"""
from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import (Boolean, Column, DateTime, Integer, MetaData, String, Table, Text,
                        bindparam, create_engine, delete, event, exists, insert, select, update)
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Engine

log = logging.getLogger("ivr.db")
metadata = MetaData()

calls = Table(
    "calls", metadata,
    Column("call_sid", String(64), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("status", String(32)),
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
    Column("status", String(16), nullable=False, default="new"),
)

CALLBACK_STATUSES = ("new", "called_back", "closed")


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(timezone.utc)


def connect(url: str) -> Engine:
    """Create an engine for a DATABASE_URL and make sure the schema exists."""
    options = {"pool_pre_ping": not url.startswith("sqlite")}  # a file needs no ping
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"check_same_thread": False, "timeout": 15}
    else:
        options.update(pool_size=5, max_overflow=5, pool_timeout=2,
                       connect_args={"connect_timeout": 2})
    engine = create_engine(url, **options)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_wal)
    metadata.create_all(engine)
    return engine


def _sqlite_wal(dbapi_connection, _record) -> None:
    """Write-ahead log: each worker's writes and staff's reports don't wait for one another.

    synchronous=NORMAL is SQLite's advice for a write-ahead log: a commit survives the line's
    process crashing, and only a power cut of the whole machine can undo the last moments of
    writes, while a webhook no longer waits for the disk on every commit.
    """
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


BATCH_SECONDS, BATCH_SIZE = 0.5, 500


class EventSink:
    """Writes call events and call records in batches from a background thread, off the webhook's path.

    Work is written in the order it was queued, so a call's end follows its events.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self.queue: queue.Queue = queue.Queue(maxsize=10000)
        self._thread = threading.Thread(target=self._run, name="ivr-events", daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def add(self, **event) -> None:
        """Queue one event; drop it (and log) rather than slow a call when the queue is full."""
        event.setdefault("at", utcnow())
        self._put(event)

    def later(self, func, *args) -> None:
        """Queue a store function, func(connection, *args), to run with the next batch."""
        self._put((func, args))

    def _put(self, item) -> None:
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            log.warning("event queue full; a call event or record was dropped")

    def flush(self) -> None:
        """Write everything queued now."""
        batch = []
        while True:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
        if batch:
            self._done(batch)

    def wait(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.queue.unfinished_tasks

    def _run(self) -> None:
        """Wait for work and write it in batches, each at most BATCH_SECONDS after its first item.

        Short batches keep each write transaction short, so a SQLite store shared by several
        workers never keeps a webhook's own write waiting long.
        """
        while True:
            batch = [self.queue.get()]
            time.sleep(BATCH_SECONDS)  # let the batch gather without waking for every event
            try:
                while True:
                    batch.append(self.queue.get_nowait())
                    if len(batch) >= BATCH_SIZE:
                        self._done(batch)
                        batch = []
            except queue.Empty:
                pass
            if batch:
                self._done(batch)

    def _done(self, batch: list) -> None:
        """Write a batch taken from the queue, and mark it done."""
        try:
            self._write(batch)
        finally:
            for _ in batch:
                self.queue.task_done()

    def _write(self, batch: list) -> None:
        """Write a batch in one transaction; if that fails, item by item, so one bad write loses only itself."""
        try:
            with self.engine.begin() as conn:
                _write_batch(conn, batch)
        except Exception:  # the store is down or one write is bad: the calls go on
            if len(batch) > 1:
                for item in batch:
                    self._write([item])
                return
            log.exception("could not write a call %s", "event" if isinstance(batch[0], dict) else "record")


def _write_batch(conn, batch: list) -> None:
    """Events, then calls started, then calls ended, then anything else: a few statements per batch.

    Few statements matter: each one hands the interpreter lock to the request threads, and a
    SQLite transaction that waits for it keeps every other worker's write waiting too.
    """
    found = [item for item in batch if isinstance(item, dict)]
    started = [item[1] for item in batch if not isinstance(item, dict) and item[0] is call_started]
    ended = [item[1] for item in batch if not isinstance(item, dict) and item[0] is call_ended]
    others = [item for item in batch if not isinstance(item, dict)
              and item[0] is not call_started and item[0] is not call_ended]
    if found:
        conn.execute(insert(events), found)
    if started or ended:
        _insert_once(conn, calls, "call_sid", [dict(call_sid=a[0], caller_key=a[1], started_at=_at(a, 2), transferred=False)
                             for a in started]
                      + [dict(call_sid=a[0], caller_key=a[3], started_at=_at(a, 4), transferred=False)
                         for a in ended])
    if ended:
        conn.execute(_ENDED, [dict(b_sid=a[0], b_status=a[1], b_duration=a[2], b_at=_at(a, 4))
                              for a in ended])
    for func, args in others:
        func(conn, *args)


def _at(args: tuple, index: int) -> datetime:
    """The time a queued call record was made (or now, if it did not say)."""
    return args[index] if len(args) > index and args[index] else utcnow()


# A call's end, with whether it reached a counselor, in one statement for many calls.
_ENDED = (update(calls).where(calls.c.call_sid == bindparam("b_sid"))
          .values(ended_at=bindparam("b_at"), status=bindparam("b_status"),
                  duration=bindparam("b_duration"),
                  transferred=exists().where(events.c.call_sid == calls.c.call_sid,
                                             events.c.outcome.like("transfer:%"))))


def _insert_once(conn, table: Table, key: str, rows: list) -> None:
    """Insert rows, leaving any whose key is already there as it is: one statement where we can."""
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        module = sqlite_dialect if dialect == "sqlite" else postgresql_dialect
        conn.execute(module.insert(table).on_conflict_do_nothing(index_elements=[key]), rows)
        return
    for row in rows:
        if not conn.execute(select(table.c[key]).where(table.c[key] == row[key])).first():
            conn.execute(insert(table).values(**row))


def _begin(bind):
    """A transaction on an engine, or the one a connection is already in."""
    return bind.begin() if isinstance(bind, Engine) else nullcontext(bind)


def call_started(bind, call_sid: str, caller_key: str | None, at: datetime | None = None) -> None:
    """Note a new call, once."""
    with _begin(bind) as conn:
        if conn.execute(select(calls.c.call_sid).where(calls.c.call_sid == call_sid)).first():
            return
        conn.execute(insert(calls).values(call_sid=call_sid, started_at=at or utcnow(),
                                          caller_key=caller_key, transferred=False))


def call_ended(bind, call_sid: str, status: str, duration: int | None,
               caller_key: str | None, at: datetime | None = None) -> None:
    """Record how a call ended: its status, length, and whether it reached a counselor."""
    at = at or utcnow()
    with _begin(bind) as conn:
        transferred = conn.execute(select(events.c.id).where(
            events.c.call_sid == call_sid, events.c.outcome.like("transfer:%"))).first() is not None
        values = dict(ended_at=at, status=status, duration=duration, transferred=transferred)
        done = conn.execute(update(calls).where(calls.c.call_sid == call_sid).values(**values))
        if not done.rowcount:
            conn.execute(insert(calls).values(call_sid=call_sid, started_at=at,
                                              caller_key=caller_key, **values))


def mark_accepted(engine: Engine, call_sid: str) -> None:
    """Remember that a counselor pressed 1 to take this call (the first press counts)."""
    with engine.begin() as conn:
        _insert_once(conn, screens, "call_sid", [dict(call_sid=call_sid, accepted_at=utcnow())])


def was_accepted(engine: Engine, call_sid: str) -> bool:
    """Whether a counselor pressed 1 to take this call."""
    with engine.connect() as conn:
        return conn.execute(select(screens.c.call_sid).where(
            screens.c.call_sid == call_sid)).first() is not None


def save_callback(engine: Engine, call_sid: str, caller: str, lang: str, path: str,
                  recording_url: str | None, seconds: int | None) -> None:
    """Store a voicemail as a callback request (or complete the one its callback made)."""
    with engine.begin() as conn:
        row = conn.execute(select(callbacks.c.id).where(callbacks.c.call_sid == call_sid,
                                                        callbacks.c.recording_url == recording_url)).first()
        if row:
            return
        conn.execute(insert(callbacks).values(
            created_at=utcnow(), call_sid=call_sid, caller=caller, lang=lang, path=path,
            recording_url=recording_url, recording_seconds=seconds, status="new"))


def recording_done(bind, call_sid: str, recording_url: str, seconds: int | None) -> None:
    """Fill in a finished recording's length (the recording status callback)."""
    with _begin(bind) as conn:
        conn.execute(update(callbacks).where(callbacks.c.call_sid == call_sid,
                                             callbacks.c.recording_url == recording_url)
                     .values(recording_seconds=seconds, updated_at=utcnow()))


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


def purge(engine: Engine, days: int) -> dict:
    """Delete callbacks, calls, events and screens older than a number of days."""
    cutoff = utcnow() - timedelta(days=days)
    with engine.begin() as conn:
        return {
            "callbacks": conn.execute(delete(callbacks).where(callbacks.c.created_at < cutoff)).rowcount,
            "events": conn.execute(delete(events).where(events.c.at < cutoff)).rowcount,
            "calls": conn.execute(delete(calls).where(calls.c.started_at < cutoff)).rowcount,
            "screens": conn.execute(delete(screens).where(screens.c.accepted_at < cutoff)).rowcount,
        }


class Storage:
    """One process's lazy connection to the store, that backs off while the store is down."""

    RETRY_AFTER = 5.0

    def __init__(self, url: str):
        self.url = url
        self._engine: Engine | None = None
        self._sink: EventSink | None = None
        self._failed_at = 0.0
        self._lock = threading.RLock()  # sink creation connects the engine under the same lock

    @property
    def engine(self) -> Engine:
        """The engine, connecting (and creating the schema) on first use."""
        if self._engine is None:
            if time.monotonic() - self._failed_at < self.RETRY_AFTER:
                raise ConnectionError("the store was unreachable moments ago")
            with self._lock:
                if self._engine is None:
                    try:
                        self._engine = connect(self.url)
                    except Exception:
                        self._failed_at = time.monotonic()
                        raise
        return self._engine

    @property
    def sink(self) -> EventSink:
        """The background event writer for this process."""
        if self._sink is None:
            with self._lock:
                if self._sink is None:
                    self._sink = EventSink(self.engine)
        return self._sink

    def later(self, what: str, func, *args) -> None:
        """Queue a store function for the background writer; log (no caller data) if it can't be."""
        try:
            self.sink.later(func, *args)
        except Exception:
            log.exception("store unavailable: could not %s", what)

    def attempt(self, what: str, func, *args, default=None):
        """Run a store function; on failure log it (no caller data) and return default."""
        try:
            return func(self.engine, *args)
        except Exception:
            log.exception("store unavailable: could not %s", what)
            return default
