"""SQLite's writers wait for one another at the write gate, never in SQLite's own sleeps."""
import subprocess
import sys
import threading

from sqlalchemy import event, func, insert, select

from ivr import db

# A writer that met SQLite's lock would fail at once: its own wait (the busy timeout) is 0 here.
NO_SQLITE_WAIT = """
import sys
from sqlalchemy import event, insert
from ivr import db
engine = db.connect(sys.argv[1])
event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA busy_timeout=0"))
engine.dispose()
print("ready", flush=True)
with engine.begin() as conn:
    conn.execute(insert(db.screens), {"call_sid": "CA-other-worker", "accepted_at": db.utcnow()})
print("written", flush=True)
"""


def _engine(path):
    engine = db.connect(f"sqlite:///{path}")
    event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA busy_timeout=0"))
    engine.dispose()
    return engine


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(db.screens)).scalar()


def test_a_thread_waits_for_the_writer_before_it_then_writes(tmp_path):
    engine = _engine(tmp_path / "ivr.db")
    done = []

    def second_writer():
        with engine.begin() as conn:
            conn.execute(insert(db.screens), {"call_sid": "CA-second", "accepted_at": db.utcnow()})
        done.append(True)

    with engine.begin() as conn:
        conn.execute(insert(db.screens), {"call_sid": "CA-first", "accepted_at": db.utcnow()})
        writer = threading.Thread(target=second_writer)
        writer.start()
        writer.join(0.3)
        assert writer.is_alive() and not done  # waiting at the gate, not failed on SQLite's lock
    writer.join(10)
    assert done == [True] and _count(engine) == 2


def test_another_worker_waits_for_the_writer_before_it_then_writes(tmp_path):
    path = tmp_path / "ivr.db"
    engine = _engine(path)
    with engine.begin() as conn:
        conn.execute(insert(db.screens), {"call_sid": "CA-this-worker", "accepted_at": db.utcnow()})
        other = subprocess.Popen([sys.executable, "-c", NO_SQLITE_WAIT, f"sqlite:///{path}"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert other.stdout.readline() == "ready\n"
        try:
            other.wait(0.3)
        except subprocess.TimeoutExpired:
            pass
        assert other.poll() is None, other.stderr.read()  # it waits for this worker's commit
    out, err = other.communicate(timeout=30)
    assert other.returncode == 0 and out == "written\n", err
    assert _count(engine) == 2


def test_a_reader_does_not_wait_for_a_writer(tmp_path):
    engine = _engine(tmp_path / "ivr.db")
    with engine.begin() as conn:
        conn.execute(insert(db.screens), {"call_sid": "CA-writing", "accepted_at": db.utcnow()})
        assert _count(engine) == 0  # another connection reads the last commit at once (WAL)
    assert _count(engine) == 1


def test_a_worker_forked_while_its_master_writes_can_write(tmp_path):
    import os
    engine = _engine(tmp_path / "ivr.db")
    with engine.begin() as conn:
        conn.execute(insert(db.screens), {"call_sid": "CA-master", "accepted_at": db.utcnow()})
        pid = os.fork()
        if pid == 0:  # the worker: the master's gate is not its own
            code = 1
            try:
                code = 0 if all(gate._threads.acquire(timeout=2) for gate in list(db.gate._GATES)) else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
