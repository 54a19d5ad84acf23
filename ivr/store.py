"""The flow being served, reloaded when staff edit it, never replaced by a broken edit."""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from ivr.flow import Flow, check_flow
from ivr.problem import FlowError

log = logging.getLogger("ivr.store")
CHECK_EVERY = 1.0  # seconds between looks at the files; an edit is live within two
SETTLE = 0.25  # a file changed more recently than this may still be being written: look again


class FlowStore:
    """Holds the last good Flow and swaps in a new one when its files change and check clean."""

    def __init__(self, path):
        self.path = Path(path)
        self.error: list = []
        self.error_at: float | None = None
        self._lock = threading.Lock()
        self._seen = self._fingerprint()
        flow, problems = check_flow(self.path)
        if flow is None:
            raise FlowError([p for p in problems if p.is_error])
        self.flow: Flow = flow
        self._checked = time.monotonic()
        log.info("flow version %s loaded (process %d)", flow.version, os.getpid())

    def current(self) -> Flow:
        """Return the flow to serve, looking for an edit at most once a second."""
        if time.monotonic() - self._checked >= CHECK_EVERY and self._lock.acquire(blocking=False):
            try:
                self._checked = time.monotonic()
                self.reload_if_changed()
            finally:
                self._lock.release()
        return self.flow

    def watch(self) -> threading.Thread:
        """Also look for edits from a background thread, so an idle worker switches too."""
        # gunicorn loads the flow once in its master and forks it: say what this worker serves.
        log.info("flow version %s is live (worker %d)", self.flow.version, os.getpid())
        def loop():
            while True:
                time.sleep(CHECK_EVERY / 2)
                try:
                    self.current()
                except Exception:  # never let the watcher die; requests still check
                    log.exception("could not check the call-flow files")
        thread = threading.Thread(target=loop, name="ivr-flow-watch", daemon=True)
        thread.start()
        return thread

    def reload_if_changed(self) -> bool:
        """Reload when any file changed; return whether a new flow went live."""
        seen = self._fingerprint()
        if seen == self._seen:
            return False
        newest = max((mark[2] or 0 for mark in seen), default=0)
        if time.time() - newest / 1e9 < SETTLE:
            return False  # an editor may be halfway through saving: judge it on the next look
        self._seen = seen
        flow, problems = check_flow(self.path)
        if flow is None:
            self.error = [str(p) for p in problems if p.is_error]
            self.error_at = time.time()
            log.error("flow edit refused (worker %d); still serving version %s: %s", os.getpid(),
                      self.flow.version, "; ".join(self.error))
            return False
        self.flow, self.error, self.error_at = flow, [], None  # one assignment: atomic for readers
        log.info("flow version %s is live (worker %d)", flow.version, os.getpid())
        return True

    def _fingerprint(self) -> tuple:
        """Names, sizes and times of the flow file and every prompt file."""
        marks = []
        for file in [self.path]:
            marks.append(_mark(file))
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
