"""The live flow: the Flow being served, reloaded when staff edit it, never replaced by a broken edit.

Not "the store": that is the database (ivr.db). The app's LiveFlow is ivr.parts.live_flow().
"""
from __future__ import annotations

import atexit
import dataclasses
import fcntl
import gc
import hashlib
import logging
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ivr import metrics
from ivr.flow import Flow, check_flow
from ivr.privacy import redact
from ivr.problem import FlowError

# The logger keeps its name: operators' log filters and alerts know it.
log = logging.getLogger("ivr.store")
CHECK_EVERY = 1.0  # seconds between looks at the files; an edit is live within two
SETTLE = 0.25  # a file changed more recently than this may still be being written: look again
# A flow that takes longer than these to look over or to load (thousands of prompt files)
# is looked at beside the requests, so no caller waits for it: calls keep the last good flow
# meanwhile. A small flow is looked at by the request that notices, as ever.
SLOW_LOOK, SLOW_LOAD = 0.005, 0.2
LOOK_SHARE = 0.02  # at most this share of a worker's time goes to looking for edits
LONGEST_WAIT = 5.0  # but an edit is live within this long (plus the load) however big the flow
PIECE = 200  # menus or prompts a worker unpickles at a time: a request waits at most for one piece
LET_GO_WAIT = 30.0  # seconds an old big flow is kept for the requests and caches still serving it


# The separate process of LiveFlow._check_elsewhere: the same check_flow, its result parcelled.
# At the calls' own priority: niced, a machine busy with calls starved it, and the big flow's
# edit missed bench/run.py's 8 s window at full load (tests/test_bench.py, 1 run in 5).
_CHECK_ELSEWHERE = ("import sys\nfrom ivr.live import parcel\n"
                    "sys.stdout.buffer.write(parcel(sys.argv[1]))")


class _Turn:
    """The right to look at the files: one look at a time per LiveFlow, never waited for.

    The threading contract, kept here and asserted (python -O drops the asserts, not the rule):
    - take() never blocks: a thread that finds the turn taken skips its look, and calls go on;
    - the thread holding the turn gives it back when its look ends, or hands it to a thread
      it starts for the look (a slow flow), which takes it over with received() before it
      looks and gives it back when done;
    - the flow itself is read without the turn: readers get the last Flow assigned, whole.
    A Lock (not an RLock) because the thread that gives the turn back may not be the one that
    took it; which thread holds it is noted so a wrong hand-over fails loudly in the tests.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._holder: int | None = None  # the thread whose look it is

    def take(self) -> bool:
        """Take the turn if no look is under way; return whether this thread has it now."""
        if not self._lock.acquire(blocking=False):
            return False
        self._holder = threading.get_ident()
        return True

    def received(self, giver: int) -> None:
        """Take over the turn handed on by thread `giver`, which started this one to look."""
        assert self._lock.locked() and self._holder == giver, "the turn was not handed to this thread"
        self._holder = threading.get_ident()

    def give_back(self) -> None:
        """End this thread's look: the next look may happen."""
        assert self._holder == threading.get_ident(), "the turn is given back by a thread that does not hold it"
        self._holder = None
        self._lock.release()


class LiveFlow:
    """Holds the last good Flow and swaps in a new one when its files change and check clean.

    current() is on every call's path: with a watcher it reads one attribute, else the clock. A look
    happens in the thread that finds it due (a request, or the watcher), or beside the
    requests in a thread of its own when the flow is slow to look at; _Turn says who may.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.error: list = []
        self.error_at: float | None = None
        self._turn = _Turn()
        self._watching = False
        self._shared = _shared_folder()  # made before gunicorn forks: every worker reads one check
        started = time.thread_time()  # what looking and loading cost this worker, not the machine's mood
        self._seen = self._fingerprint()
        looked = time.thread_time() - started
        flow, problems = check_flow(self.path)
        if flow is None:
            raise FlowError([p for p in problems if p.is_error])
        self._looked, self._loaded = looked, time.thread_time() - started - looked
        self.flow: Flow = flow
        self._checked = time.monotonic()
        self._announce("loaded (process %d)")

    def current(self) -> Flow:
        """Return the flow to serve; with no watcher, look for an edit at most once a second."""
        if not self._watching and self._due() and self._turn.take():
            self._checked = time.monotonic()
            if self._slow:
                self._hand_over()
            else:
                try:
                    self.reload_if_changed()
                finally:
                    self._turn.give_back()
        return self.flow

    def _hand_over(self) -> None:
        """Hand this thread's turn to a thread of its own that looks beside the requests."""
        try:
            threading.Thread(target=self._look_beside, args=(threading.get_ident(),),
                             name="ivr-flow-reload", daemon=True).start()
        except RuntimeError:  # no thread to be had: the turn stays here, and is given back
            self._turn.give_back()

    def watch(self) -> threading.Thread:
        """Look for edits from a background thread: requests then never wait for a look or a load."""
        # gunicorn loads the flow once in its master and forks it: say what this worker serves.
        self._announce("is live (worker %d)")
        self._watching = True

        def loop():
            while True:
                # Asleep until the next look is due (once a second for the shipped flow), not
                # waking twice as often to ask: each wake takes the interpreter lock from calls.
                time.sleep(max(0.05, self._every() - (time.monotonic() - self._checked)))
                if self._due() and self._turn.take():
                    self._checked = time.monotonic()
                    self._look_beside(threading.get_ident())
        thread = threading.Thread(target=loop, name="ivr-flow-watch", daemon=True)
        thread.start()
        return thread

    def _due(self) -> bool:
        """Whether it is time to look at the files again."""
        return time.monotonic() - self._checked >= self._every()

    def _every(self) -> float:
        """Seconds between looks: CHECK_EVERY, longer when looking takes long (a big flow)."""
        return min(max(CHECK_EVERY, self._looked / LOOK_SHARE), LONGEST_WAIT) if self._slow else CHECK_EVERY

    def _look_beside(self, giver: int) -> None:
        """Look for an edit away from the requests with the turn `giver` handed on, then give it back."""
        self._turn.received(giver)
        try:
            self.reload_if_changed()
        except Exception:  # never let a look kill the watcher; the last good flow stays
            log.exception("could not check the call-flow files")
        finally:
            self._checked = time.monotonic()
            self._turn.give_back()

    def reload_if_changed(self) -> bool:
        """Reload when any file changed; return whether a new flow went live."""
        started = time.thread_time()
        seen = self._fingerprint()
        self._looked = time.thread_time() - started
        if seen == self._seen:
            return False
        newest = max((mark[2] or 0 for mark in seen), default=0)
        if time.time() - newest / 1e9 < SETTLE:
            return False  # an editor may be halfway through saving: judge it on the next look
        self._seen = seen
        if self._slow:
            flow, problems = self._check_elsewhere()
        else:
            started = time.thread_time()
            flow, problems = check_flow(self.path)
            self._loaded = time.thread_time() - started
        if flow is None:
            # /healthz shows these to anyone: a counselor's number in a bad line is redacted.
            self.error = [redact(str(p)) for p in problems if p.is_error]
            self.error_at = time.time()
            metrics.reloaded(False)
            log.error("flow edit refused (worker %d); still serving version %s: %s", os.getpid(),
                      self.flow.version, "; ".join(self.error))
            return False
        old = [self.flow]
        self.flow, self.error, self.error_at = flow, [], None  # one assignment: atomic for readers
        if self._slow:
            # A big flow is a million objects that live until the next edit: out of the collector's
            # sight, or each full collection walks them all while a call waits (100 ms on 2,000 menus).
            gc.freeze()
            # Freed all at once, the old one would hold the interpreter for the request that
            # drops it last (9 ms for 2,000 menus, bench/pause.py): freed a piece at a time instead.
            threading.Thread(target=_let_go, args=(old,), name="ivr-flow-let-go", daemon=True).start()
        metrics.reloaded(True)
        self._announce("is live (worker %d)")
        return True

    def _announce(self, what: str) -> None:
        """Log the version this process now serves, and count it in ivr_flow_workers."""
        metrics.serving(self, self.flow.version)
        log.info("flow version %s " + what, self.flow.version, os.getpid())

    def _check_elsewhere(self) -> tuple:
        """check_flow in a process of its own: a big flow's parse would hold this worker's
        interpreter lock (libyaml gives it up only when done), and callers would hear the pause.
        One worker checks an edit and the others read its result (the machine's cores go to
        calls, not to five checks of one file); each reads it back a piece at a time.
        Falls back to checking here."""
        try:
            return unparcel(self._shared_check())
        except Exception:
            log.exception("could not check the call-flow files in a separate process; checking here")
            return check_flow(self.path)

    def _shared_check(self) -> bytes:
        """The parcelled check of the files as last seen: made by the first worker to ask, read by the rest."""
        done = self._shared / (hashlib.sha256(repr(self._seen).encode()).hexdigest()[:24] + ".pickle")
        with open(self._shared / "lock", "wb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a worker that finds another checking waits for its result
            if not done.exists():
                made = subprocess.run([sys.executable, "-c", _CHECK_ELSEWHERE, str(self.path)],
                                      capture_output=True, timeout=120, check=True).stdout
                for old in self._shared.glob("*.pickle"):
                    old.unlink(missing_ok=True)
                part = done.with_suffix(".part")
                part.write_bytes(made)
                part.replace(done)
                log.info("call-flow edit checked once for every worker (by worker %d)", os.getpid())
            return done.read_bytes()

    @property
    def _slow(self) -> bool:
        """From how long the last look and load took: whether to look beside the requests."""
        return self._looked > SLOW_LOOK or self._loaded > SLOW_LOAD

    def _fingerprint(self) -> tuple:
        """Names, sizes and times of the flow file and every prompt file."""
        marks = [_mark(self.path)]
        prompts = self.path.parent / "prompts"
        try:
            folders = sorted(e.path for e in os.scandir(prompts) if e.is_dir())
        except OSError:
            folders = []
        for folder in folders:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            marks.extend((e.path, *_stat(e)) for e in entries)
        return tuple(marks)


def parcel(path) -> bytes:
    """check_flow's result pickled so a worker can read it back a piece at a time: the big tables apart."""
    flow, problems = check_flow(path)
    if flow is None:
        return pickle.dumps((None, problems, {}))
    big = {f.name: list(getattr(flow, f.name).items()) for f in dataclasses.fields(flow)
           if isinstance(getattr(flow, f.name), dict) and len(getattr(flow, f.name)) > PIECE}
    pieces = {name: [pickle.dumps(items[i:i + PIECE]) for i in range(0, len(items), PIECE)]
              for name, items in big.items()}
    return pickle.dumps((dataclasses.replace(flow, **{name: {} for name in big}), problems, pieces))


def unparcel(data: bytes) -> tuple:
    """(flow, problems) from a parcel, a piece at a time, letting calls run in between."""
    # Our own child's output through a folder only this user can write, not outside data.
    flow, problems, pieces = pickle.loads(data)
    if flow is None:
        return None, problems
    collecting = gc.isenabled()
    gc.disable()  # the new objects would set off full collections, each a pause for the calls
    try:
        tables = {}
        for name, chunks in pieces.items():
            tables[name] = table = {}
            for chunk in chunks:
                table.update(pickle.loads(chunk))
                time.sleep(0)  # a waiting request runs now, not after the whole flow
        flow = dataclasses.replace(flow, **tables)
        # Out of the collector's sight before it wakes: else its first young collection walks
        # every object just read (a million for 2,000 menus) while a call waits.
        gc.freeze()
        return flow, problems
    finally:
        if collecting:
            gc.enable()


def _let_go(held: list) -> None:
    """Free the flow in `held` a piece at a time, once the requests and caches still serving it are done."""
    flow = held.pop()
    pieces = []
    for table in (getattr(flow, f.name) for f in dataclasses.fields(flow)):
        if isinstance(table, dict):
            values = list(table.values())
            pieces += [values[i:i + PIECE] for i in range(0, len(values), PIECE)]
    waited = 0.0
    # Two references: `flow` here and getrefcount's own. Until then a request or the app's
    # Edition still serves it; after LET_GO_WAIT the pieces go anyway (whoever holds it frees the rest).
    while sys.getrefcount(flow) > 2 and waited < LET_GO_WAIT:
        time.sleep(0.05)
        waited += 0.05
    del flow  # the tables themselves: what they hold is still held by `pieces`
    while pieces:
        pieces.pop()
        time.sleep(0)  # a waiting request runs now, not after the whole flow


def _shared_folder() -> Path:
    """A folder only this user can write, for the workers' one check of an edit; gone at exit."""
    folder = Path(tempfile.mkdtemp(prefix="ivr-flow-"))
    owner = os.getpid()  # gunicorn's workers inherit the exit hook: only the master removes it
    atexit.register(lambda: os.getpid() == owner and shutil.rmtree(folder, ignore_errors=True))
    return folder


def _mark(file: Path) -> tuple:
    """A file's name, size and modification time (or that it is missing)."""
    try:
        st = file.stat()
        return (str(file), st.st_size, st.st_mtime_ns)
    except OSError:
        return (str(file), None, None)


def _stat(entry) -> tuple:
    """Size and modification time of a directory entry."""
    try:
        st = entry.stat()
        return (st.st_size, st.st_mtime_ns)
    except OSError:
        return (None, None)
