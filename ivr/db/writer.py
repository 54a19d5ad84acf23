"""The events writer: call events and call records, written in batches on a background thread.

Events are written on this thread, never on a webhook's: a caller never waits for the store.
"""
from __future__ import annotations

import atexit
import logging
import queue
import threading
import time

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from ivr.db import facts
from ivr.db.schema import events, utcnow

log = logging.getLogger("ivr.db")  # one logger for the store, whichever module says it

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
        """Queue a fact for a call's record: started, transferred or ended (see facts.CALL_FACTS)."""
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
                for kind in facts.CALL_FACTS:
                    if kind in kinds:
                        facts.write(conn, kind, kinds.pop(kind))
        except Exception as exc:
            self.failed(len(batch), exc)
        else:
            self.written()
