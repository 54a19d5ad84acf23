"""SQLite's writers one at a time through a lock that hands over at once, not SQLite's sleeps.

SQLite lets one connection write at a time. A writer that finds the file locked sleeps and
tries again, 1, 2, 5, 10, 25 ms and longer (its busy handler), however soon the lock was free:
with a webhook's write (a caller's message, a counselor's leg) and every worker's events
thread meeting, that sleep is the line's slowest requests (bench/PROFILE.md). Here a writer
waits on the threads of its worker (a lock) and then on the other workers (an flock on a file
beside the database), and each wakes the moment the one before has committed.
PostgreSQL takes writes side by side and has no gate.
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
import weakref

from sqlalchemy import event
from sqlalchemy.engine import Engine

log = logging.getLogger("ivr.db")
WAIT = 15.0  # seconds a writer waits for the gate; then SQLite's own timeout still stands behind it
HELD = "ivr.write_gate"  # in a connection's info while its transaction holds the gate
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WriteGate:
    """One writer at a time for one SQLite file, across the threads and the workers."""

    def __init__(self, path: str):
        self.path = path + "-writer"
        self._forked()
        _GATES.add(self)

    def _forked(self) -> None:
        """Start unlocked: a worker forked while its master's thread was writing owns neither lock."""
        self._threads = threading.Lock()  # not an RLock: the pool may give a connection back on another thread
        self._file = None
        self._pid = None

    def enter(self) -> bool:
        """Wait for the gate; False when it could not be had in time (SQLite's own lock decides then)."""
        if not self._threads.acquire(timeout=WAIT):
            log.warning("waited %g s for the store's write gate; writing without it", WAIT)
            return False
        try:
            fcntl.flock(self._own_file().fileno(), fcntl.LOCK_EX)
        except OSError:  # no lock file to be had: SQLite's own lock still keeps writes apart
            log.warning("cannot lock the store's write gate; writing without it", exc_info=True)
        return True

    def leave(self) -> None:
        """Let the next writer in."""
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        except (OSError, AttributeError, ValueError):
            pass
        try:
            self._threads.release()
        except RuntimeError:  # taken before this worker was forked: _forked made it anew, unlocked
            pass

    def _own_file(self):
        """This process's lock file: one opened before gunicorn forks would be one lock for every worker."""
        if self._pid != os.getpid():
            self._file, self._pid = open(self.path, "ab"), os.getpid()  # noqa: SIM115 (kept open)
        return self._file


_GATES: weakref.WeakSet = weakref.WeakSet()
os.register_at_fork(after_in_child=lambda: [gate._forked() for gate in list(_GATES)])


def install(engine: Engine, path: str) -> WriteGate:
    """Put a write gate on a SQLite engine: taken at a connection's first write, given back with the connection.

    Given back when the pool takes the connection back, after its commit or rollback: SQLAlchemy's
    commit event comes before the commit, when SQLite still holds its own lock. The line writes in
    `with engine.begin()` blocks, so that is the moment the transaction ends.
    """
    gate = WriteGate(path)

    def before_write(conn, _cursor, statement, _parameters, _context, _many):
        if HELD not in conn.info and statement.lstrip()[:7].upper().startswith(WRITES) and gate.enter():
            conn.info[HELD] = True

    def given_back(_dbapi_connection, record):
        if record.info.pop(HELD, False):
            gate.leave()

    event.listen(engine, "before_cursor_execute", before_write)
    event.listen(engine.pool, "checkin", given_back)
    return gate
