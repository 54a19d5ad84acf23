"""The line's store: calls, call events, screened answers and callback requests.

SQLAlchemy Core over one DATABASE_URL: SQLite by default, PostgreSQL for replicas. A store
that is down never breaks a call: every write from a webhook is tried, and a failure is
counted, said in the log at most once a minute (without the caller's number) and shown on
/healthz, while the call goes on. A DATABASE_URL the line cannot use stops it at start-up.
"""
from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import (Boolean, Column, DateTime, Integer, MetaData, String, Table, Text,
                        bindparam, case, create_engine, delete, event, exists, func, insert, or_, select,
                        update)
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from ivr.config import LineError

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
CALL_STATUSES = ("calling", "talked", "no_answer")  # a call-back from the helpline, as it goes


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(timezone.utc)


class StoreError(LineError):
    """A DATABASE_URL the line cannot use at all: it refuses to start rather than lose messages."""


# The schemes DATABASE_URL may use, and the driver each means. postgres:// (Heroku's and many
# hosts' spelling) and postgresql:// mean psycopg 3, which the package depends on: SQLAlchemy's
# own default for postgresql:// has been psycopg2, which is not installed.
SCHEMES = {"sqlite": "sqlite", "sqlite+pysqlite": "sqlite", "postgres": "postgresql+psycopg",
           "postgresql": "postgresql+psycopg", "postgresql+psycopg": "postgresql+psycopg"}
EXAMPLES = "sqlite:///var/ivr.db or postgresql://USER@HOST:5432/DB"


def store_url(text: str) -> str:
    """DATABASE_URL as the line uses it (postgres:// and postgresql:// mean psycopg 3); StoreError if unusable."""
    try:
        url = make_url(text)
    except ArgumentError:  # the text itself is not repeated: it may hold a password
        raise StoreError(f"DATABASE_URL is not a database URL; write it like {EXAMPLES}.") from None
    driver = SCHEMES.get(url.drivername)
    if driver is None:
        raise StoreError(f"DATABASE_URL starts with {url.drivername}://, which the line does not use; "
                         f"write it like {EXAMPLES} (PostgreSQL through psycopg 3).")
    url = url.set(drivername=driver)
    try:
        url.get_dialect().import_dbapi()
    except ImportError as exc:
        raise StoreError(f"DATABASE_URL needs the {driver} driver, which cannot be loaded here ({exc}); "
                         "reinstall the line (`make install`) so that its dependencies are in place.") from None
    return url.render_as_string(hide_password=False)


def shown_url(url: str) -> str:
    """A store URL to show staff: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a URL)"


def connect(url: str) -> Engine:
    """Create an engine for a DATABASE_URL and make sure the schema exists."""
    url = store_url(url)
    # hide_parameters: a failed statement's message never carries a caller's number into a log.
    sqlite = url.startswith("sqlite")
    if sqlite:
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, hide_parameters=True, pool_pre_ping=False,  # a file needs no ping
                               connect_args={"check_same_thread": False, "timeout": 15})
        event.listen(engine, "connect", _sqlite_wal)
    else:
        engine = create_engine(url, hide_parameters=True, pool_pre_ping=True, pool_size=5, max_overflow=5,
                               pool_timeout=2, connect_args={"connect_timeout": 2})
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

    A caller never waits for the store: a slow or unreachable database costs the statistics
    at most the batch in hand (logged), never a moment of a call.
    """

    def __init__(self, engine: Engine, failed=None, written=None):
        self.engine = engine
        # What to do when a batch is lost or written (Storage counts and tells); by default, log.
        self.failed = failed or (lambda n, exc: log.error("could not write %d call events and records", n,
                                                          exc_info=exc))
        self.written = written or (lambda: None)
        self.queue: queue.Queue = queue.Queue(maxsize=10000)
        self._waiting = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ivr-events", daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def add(self, **event) -> None:
        """Queue one call event."""
        event.setdefault("at", utcnow())
        self._put("event", event)

    def note(self, fact: str, call_sid: str, **values) -> None:
        """Queue a fact for a call's record: started, transferred or ended (see CALL_FACTS)."""
        self._put(fact, {"b_sid": call_sid, "b_at": utcnow(), **{f"b_{k}": v for k, v in values.items()}})

    def _put(self, kind: str, row: dict) -> None:
        """Queue a row; drop it (and log) rather than slow a call when the queue is full."""
        try:
            self.queue.put_nowait((kind, row))
        except queue.Full:
            log.warning("event queue full; a call %s was dropped", kind)
            return
        if not self._waiting.is_set():
            self._waiting.set()

    def flush(self) -> None:
        """Write everything queued now, and wait for a batch the writer thread holds."""
        self._drain()
        self.queue.join()

    def wait(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written by the writer; False on timeout (tests)."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.queue.unfinished_tasks

    def _run(self) -> None:
        """Wake when there is work, let a batch gather for BATCH_SECONDS, write it.

        It sleeps holding nothing, so flush() never waits for a gathering batch; and it does
        not wake for every event, which would cost the webhooks' threads their turn.
        """
        while True:
            self._waiting.wait()
            time.sleep(BATCH_SECONDS)
            self._waiting.clear()
            self._drain()

    def _drain(self) -> None:
        """Take what is queued and write it, in batches of at most BATCH_SIZE."""
        batch = []
        while True:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
            if len(batch) >= BATCH_SIZE:
                self._done(batch)
                batch = []
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
        """Write a batch in one transaction, a statement per kind; a store that is down loses it (logged)."""
        kinds: dict = {}
        for kind, row in batch:
            kinds.setdefault(kind, []).append(row)
        try:
            with self.engine.begin() as conn:
                # Events first: "ended" looks among them for a transfer. The call facts are
                # written so that their order does not matter (another worker may hold the
                # call's earlier steps in its own batch).
                if "event" in kinds:
                    conn.execute(insert(events), kinds.pop("event"))
                for kind in CALL_FACTS:
                    if kind in kinds:
                        _call_facts(conn, kind, kinds.pop(kind))
        except Exception as exc:
            self.failed(len(batch), exc)
        else:
            self.written()


def _dialect(conn):
    """SQLAlchemy's dialect module for this store when it can insert-or-update in one statement."""
    return {"sqlite": sqlite_dialect, "postgresql": postgresql_dialect}.get(conn.dialect.name)


def _statement(conn, name: str):
    """A statement built once per store kind and kept: SQLAlchemy then finds it compiled at once."""
    key = (conn.dialect.name, name)
    found = _statements.get(key)
    if found is None:
        found = _statements[key] = _build(_dialect(conn), name)
    return found


_statements: dict = {}


def _build(dialect, name: str):
    """Build one of the store's insert-or-update statements for a dialect (sqlite, postgresql)."""
    sid = bindparam("b_sid", type_=String(64))
    at = bindparam("b_at", type_=DateTime(timezone=True))
    key = bindparam("b_caller_key", type_=String(64))
    if name == "started":
        query = dialect.insert(calls).values(call_sid=sid, started_at=at, caller_key=key, transferred=False)
        # A record another fact made first (its batch was written sooner) takes the real start.
        return query.on_conflict_do_update(index_elements=["call_sid"], set_={
            "started_at": case((query.excluded.started_at < calls.c.started_at, query.excluded.started_at),
                               else_=calls.c.started_at),
            "caller_key": func.coalesce(calls.c.caller_key, query.excluded.caller_key)})
    if name == "transferred":
        query = dialect.insert(calls).values(call_sid=sid, started_at=at, transferred=True)
        return query.on_conflict_do_update(index_elements=["call_sid"], set_={"transferred": True})
    if name == "ended":
        asked = exists().where(events.c.call_sid == sid, events.c.outcome.like("transfer:%"))
        query = dialect.insert(calls).values(
            call_sid=sid, started_at=at, ended_at=at, caller_key=key,
            status=bindparam("b_status", type_=String(32)), duration=bindparam("b_duration", type_=Integer),
            transferred=asked)
        return query.on_conflict_do_update(index_elements=["call_sid"], set_={
            "ended_at": query.excluded.ended_at, "status": query.excluded.status,
            "duration": query.excluded.duration,
            "caller_key": func.coalesce(calls.c.caller_key, query.excluded.caller_key),
            "transferred": or_(calls.c.transferred, query.excluded.transferred)})
    # "accepted": a counselor's 1, kept once (the first press counts)
    return dialect.insert(screens).on_conflict_do_nothing(index_elements=["call_sid"])


# What EventSink.note takes: "started" (with caller_key), "transferred", "ended" (with status,
# duration, caller_key).
CALL_FACTS = ("started", "transferred", "ended")
NOTED = {"started": "a new call", "transferred": "a transfer", "ended": "how a call ended"}  # for the log


def as_utc(when: datetime) -> datetime:
    """A stored time as an aware UTC time (SQLite hands them back without a zone)."""
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def _call_facts(conn, fact: str, rows: list) -> None:
    """Write facts of one kind (see EventSink.note) into the calls table, in any order across batches."""
    if _dialect(conn) is not None:  # one insert-or-update statement for all the rows
        conn.execute(_statement(conn, fact), rows)
        return
    for row in rows:  # other databases: look, then insert or update
        _call_fact(conn, fact, row)


def _call_fact(conn, fact: str, row: dict) -> None:
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
            events.c.call_sid == sid, events.c.outcome.like("transfer:%"))).first() is not None
        values = {"ended_at": at, "status": row["b_status"], "duration": row["b_duration"],
                  "transferred": bool(found and found.transferred) or asked,
                  "caller_key": (found.caller_key if found else None) or row["b_caller_key"]}
    if found:
        conn.execute(update(calls).where(calls.c.call_sid == sid).values(**values))
    else:
        conn.execute(insert(calls).values(call_sid=sid, **{"started_at": at, "transferred": False, **values}))


def mark_accepted(engine: Engine, call_sid: str) -> None:
    """Remember that a counselor pressed 1 to take this call (the first press counts)."""
    row = {"call_sid": call_sid, "accepted_at": utcnow()}
    with engine.begin() as conn:
        if _dialect(conn) is not None:  # one statement where the store can insert-or-ignore
            conn.execute(_statement(conn, "accepted"), row)
        elif conn.execute(_ACCEPTED, {"b_sid": call_sid}).first() is None:
            conn.execute(insert(screens), row)


def was_accepted(engine: Engine, call_sid: str) -> bool:
    """Whether a counselor pressed 1 to take this call."""
    with engine.connect() as conn:
        return conn.execute(_ACCEPTED, {"b_sid": call_sid}).first() is not None


_ACCEPTED = select(screens.c.call_sid).where(screens.c.call_sid == bindparam("b_sid"))


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
    """Set a callback's status as its call-back goes (only from `only_from`, when given)."""
    query = update(callbacks).where(callbacks.c.id == callback_id)
    if only_from:
        query = query.where(callbacks.c.status.in_(only_from))
    with engine.begin() as conn:
        return bool(conn.execute(query.values(status=status, updated_at=utcnow())).rowcount)


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


def get_callback(engine: Engine, callback_id: int) -> dict | None:
    """One callback request, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(callbacks).where(callbacks.c.id == callback_id)).first()
        return dict(row._mapping) if row else None


def scratch_write(engine: Engine) -> None:
    """Write a scratch row and delete it again, both committed: the store takes writes (`ivr doctor`)."""
    sid = f"ivr-doctor-{uuid.uuid4().hex[:20]}"
    with engine.begin() as conn:
        conn.execute(insert(screens), {"call_sid": sid, "accepted_at": utcnow()})
    with engine.begin() as conn:
        if not conn.execute(delete(screens).where(screens.c.call_sid == sid)).rowcount:
            raise RuntimeError("the scratch row written a moment ago was not there to delete")


def reason(exc: BaseException) -> str:
    """Why a store operation failed, in one line, for staff: the driver's words, never a password."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    from ivr.privacy import redact
    return redact(text[0][:300]) if text else type(exc).__name__


class StoreDown(ConnectionError):
    """The store failed moments ago, so this operation skipped it rather than make a caller wait."""


# What each store function a webhook or page runs is, for the failure counts (ivr_store_failures_total);
# a lost "callback" (a caller's message) is also said in the log every time, with its CallSid.
KINDS = {"ivr.db.save_callback": "callback",
         "ivr.db.recording_done": "callback", "ivr.db.mark_accepted": "screen", "ivr.legs.note": "screen",
         "ivr.db.was_accepted": "read", "ivr.legs.dialed": "read", "ivr.db.list_callbacks": "read"}
SAY_EVERY = 60.0  # seconds: a store that stays down is said in the log once a minute, not per call
LOOK_EVERY = 5.0  # seconds: /healthz looks at the store itself at most this often per worker


class Storage:
    """One process's lazy connection to the store, that backs off while the store is down.

    It knows whether the store is up, and why not (/healthz), counts every failed write
    (/metrics), and says failures in the log at most once a minute, with how many were not said.
    """

    RETRY_AFTER = 5.0

    def __init__(self, url: str):
        self.url = store_url(url)  # StoreError: refuse to start on a URL that could never work
        self._engine: Engine | None = None
        self._sink: EventSink | None = None
        self._failed_at: float | None = None  # when connecting last failed
        self.problem: str | None = None  # why the store is down; None while it works
        self.down_since: datetime | None = None
        self._looked_at = 0.0
        self._said_at: float | None = None  # when a failure was last said in the log
        self._unsaid = 0  # failures since then
        self._lock = threading.RLock()  # sink creation connects the engine under the same lock

    @property
    def down(self) -> bool:
        """Whether the store failed to connect moments ago (calls skip it for a while)."""
        failed = self._failed_at
        return failed is not None and time.monotonic() - failed < self.RETRY_AFTER

    @property
    def engine(self) -> Engine:
        """The engine, connecting (and creating the schema) on first use."""
        if self.down:
            raise StoreDown(f"the store is down ({self.problem}); the line tries it again within "
                            f"{self.RETRY_AFTER:g} s")
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    try:
                        self._engine = connect(self.url)
                    except Exception as exc:
                        self._failed_at = time.monotonic()
                        self._broke(exc)
                        raise
                    self._worked()
        return self._engine

    @property
    def sink(self) -> EventSink:
        """The background event writer for this process."""
        if self._sink is None:
            with self._lock:
                if self._sink is None:
                    self._sink = EventSink(self.engine, failed=self._lost_events, written=self._worked)
        return self._sink

    def start(self) -> None:
        """Connect once at start-up; a store that is down then is said at once, and calls go on."""
        try:
            self.engine
        except Exception as exc:
            self._said_at = time.monotonic()
            log.error("the store is unreachable at start-up (%s, %s): calls are answered, but nothing is "
                      "stored until it is back; /healthz shows the store's state", shown_url(self.url), reason(exc))

    def forked(self) -> None:
        """In a new worker: leave the parent's pooled connections to the parent (SQLAlchemy's advice)."""
        if self._engine is not None:
            self._engine.dispose(close=False)

    def state(self) -> dict:
        """The store as /healthz shows it: up, or down with the reason.

        What the last operation found, and a look every few seconds beside the request (a
        store that does not answer costs a connect timeout, which no health check should wait for).
        """
        now = time.monotonic()
        if not self.down and now - self._looked_at >= LOOK_EVERY:
            self._looked_at = now
            try:
                threading.Thread(target=self._look, name="ivr-store-look", daemon=True).start()
            except RuntimeError:  # no thread to be had: look next time
                self._looked_at = 0.0
        shown = {"state": "down" if self.problem else "up", "url": shown_url(self.url)}
        if self.problem:
            shown.update(reason=self.problem, since=self.down_since.isoformat())
        return shown

    def _look(self) -> None:
        """Ask the store for nothing (SELECT 1): up, or down and why."""
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
            self._worked()
        except Exception as exc:
            if self._engine is not None and _is_connection_error(exc):
                self._failed_at = time.monotonic()
            self._broke(exc)

    def close(self) -> None:
        """Write the queued events and close the connections (tests, shutdown)."""
        if self._sink is not None:
            self._sink.flush()
        if self._engine is not None:
            self._engine.dispose()

    def event(self, **event) -> None:
        """Queue a call event (EventSink.add); a store that is down is only counted and logged."""
        self._queue("a call event", lambda sink: sink.add(**event))

    def note(self, fact: str, call_sid: str, **values) -> None:
        """Queue a fact for a call's record (EventSink.note); a store that is down is only counted and logged."""
        self._queue(NOTED.get(fact, fact), lambda sink: sink.note(fact, call_sid, **values))

    def _queue(self, what: str, put) -> None:
        """Hand something to this process's writer; never let a store that is down reach the call."""
        try:
            put(self.sink)
        except Exception as exc:
            self.failed(f"note {what}", exc, "events")

    def attempt(self, what: str, func, *args, default=None):
        """Run a store function; on failure count and log it (no caller data) and return default."""
        try:
            found = func(self.engine, *args)
        except Exception as exc:
            if not self.url.startswith("sqlite") and _is_connection_error(exc):
                self._failed_at = time.monotonic()  # don't make the next callers wait on it too
            kind = KINDS.get(f"{getattr(func, '__module__', '')}.{getattr(func, '__name__', '')}", "other")
            # A lost message is said every time: its CallSid is how staff find it in Twilio.
            self.failed(what, exc, kind, always=kind == "callback")
            return default
        self._worked()
        return found

    def failed(self, what: str, exc: BaseException, kind: str, count: int = 1, always: bool = False) -> None:
        """Count a failed store operation and say it, unless a failure was said less than a minute ago."""
        from ivr import metrics
        metrics.store_failed(kind, count)
        self._broke(exc)
        now = time.monotonic()
        with self._lock:
            quiet = self._said_at is not None and now - self._said_at < SAY_EVERY
            unsaid, self._unsaid = self._unsaid, (self._unsaid + count if quiet else 0)
            if not quiet:
                self._said_at = now
        if quiet and not always:
            return
        more = f"; {unsaid} more store failures in the last minute were not logged" if unsaid and not quiet else ""
        # A traceback only for what is not the store being unreachable: that one is a bug to fix.
        trace = None if isinstance(exc, ConnectionError) or _is_connection_error(exc) else exc
        log.error("store unavailable: could not %s (%s)%s", what, reason(exc), more, exc_info=trace)

    def _lost_events(self, count: int, exc: BaseException) -> None:
        """The writer thread lost a batch: count and say it like any failed write."""
        if not self.url.startswith("sqlite") and _is_connection_error(exc):
            self._failed_at = time.monotonic()
        self.failed(f"write {count} call events and records", exc, "events", count)

    def _broke(self, exc: BaseException) -> None:
        """Remember why the store failed (for /healthz) and since when."""
        if isinstance(exc, StoreDown):  # skipped while down: the reason is the one kept
            return
        with self._lock:
            if self.problem is None:
                self.down_since = utcnow()
            self.problem = reason(exc)

    def _worked(self) -> None:
        """The store answered: it is up again (said once, when it was down)."""
        if self.problem is None:
            return
        with self._lock:
            was, since, self.problem, self._failed_at = self.problem, self.down_since, None, None
        if was is not None:
            log.warning("the store works again (it failed from %s: %s)", since.isoformat(timespec="seconds"), was)


def _is_connection_error(exc: Exception) -> bool:
    """Whether a failure means a database server cannot be reached (not one bad statement)."""
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return False
    return exc.connection_invalidated or type(exc.orig).__name__ in ("OperationalError", "InterfaceError")
