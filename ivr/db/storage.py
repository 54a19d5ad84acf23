"""The resilient facade over the store that webhooks and pages use: a store that is down never breaks a call.

Every write from a webhook is tried (`attempt`) or queued for the events writer (`event`,
`note`); a failure is counted, said in the log at most once a minute (without the caller's
number) and shown on /healthz, while the call goes on.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from ivr.db.connection import connect, shown_url, store_url
from ivr.db.facts import NOTED
from ivr.db.schema import utcnow
from ivr.db.writer import EventSink

log = logging.getLogger("ivr.db")  # one logger for the store, whichever module says it


def reason(exc: BaseException) -> str:
    """Why a store operation failed, in one line, for staff: the driver's words, never a password."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    from ivr.privacy import redact
    return redact(text[0][:300]) if text else type(exc).__name__


class StoreDown(ConnectionError):
    """The store failed moments ago, so this operation skipped it rather than make a caller wait."""


# What each store function a webhook or page runs is, for the failure counts (ivr_store_failures_total);
# a lost "callback" (a caller's message) is also said in the log every time, with its CallSid.
KINDS = {"ivr.db.callback_requests.save_callback": "callback", "ivr.db.callback_requests.recording_done": "callback",
         "ivr.db.screening.mark_accepted": "screen", "ivr.legs.note": "screen",
         "ivr.db.screening.was_accepted": "read", "ivr.legs.dialed": "read",
         "ivr.db.callback_requests.list_callbacks": "read"}
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
