"""Where a caller waits while a big flow's edit goes live: one worker's reload, in one process.

A ticker thread asks for the interpreter every millisecond, as a call's request would; each
time it gets it late, the gap is charged to the phase of the reload running then (looking at
the files, reading the check back, swapping the flow in, the first request on the new version
dropping the old one, which it held through the app's Edition). Prints the
longest gaps per phase. No gunicorn: the pauses of one worker, not the machine's scheduling.

    python bench/pause.py [--menus 2000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bigflow  # noqa: E402
from ivr import live  # noqa: E402

CHANGES: list[tuple[float, str]] = [(0.0, "idle")]  # (when, phase) each time the phase changes; the last is now's


def enter(phase: str) -> None:
    """Note that the reload is now in `phase`."""
    CHANGES.append((time.perf_counter(), phase))


def charged(start: float, end: float) -> str:
    """The phase that ran longest between start and end: the one a late wake waited on."""
    spans: dict[str, float] = {}
    for (began, phase), (ended, _) in zip(CHANGES, CHANGES[1:] + [(end, "")]):
        overlap = min(end, ended) - max(start, began)
        if overlap > 0:
            spans[phase] = spans.get(phase, 0) + overlap
    return max(spans, key=spans.get) if spans else CHANGES[-1][1]


class Ticker(threading.Thread):
    """Sleeps 1 ms at a time; records how late each wake was, and in which phase."""

    def __init__(self):
        super().__init__(daemon=True)
        self.gaps: list[tuple[float, float, float]] = []  # (late ms, asked, woke)
        self.running = True

    def run(self):
        while self.running:
            asked = time.perf_counter()
            time.sleep(0.001)
            woke = time.perf_counter()
            self.gaps.append(((woke - asked - 0.001) * 1000, asked, woke))


def _phased(name, fn):
    """fn, with the phase set to name while it runs."""
    def wrapped(*args, **kwargs):
        before = CHANGES[-1][1]
        enter(name)
        try:
            return fn(*args, **kwargs)
        finally:
            enter(before)
    return wrapped


def measure(menus: int, rounds: int) -> dict:
    """Reload a big flow `rounds` times with the ticker running; the worst gap per phase."""
    folder = Path(tempfile.mkdtemp(prefix="ivr-pause-"))
    path = bigflow.write(folder, menus=menus, prompts=max(5000, 2 * menus))
    flow = live.LiveFlow(path)
    gc.freeze()  # as gunicorn.conf.py's pre_fork does
    flow._shared_check = _phased("shared check (waiting on its process)", flow._shared_check)
    flow._fingerprint = _phased("looking at the files", flow._fingerprint)
    live.unparcel = _phased("reading the check back", live.unparcel)
    ticker = Ticker()
    ticker.start()
    for n in range(rounds):
        time.sleep(0.3)
        text = path.read_text("utf-8")
        path.write_text(text + f"\n# edit {n}\n", "utf-8")
        time.sleep(live.SETTLE + 0.05)
        served = flow.flow  # as the app's Edition holds the flow it serves
        enter("reload (swap, freeze, the old flow let go)")
        assert flow.reload_if_changed(), "the edit did not go live"
        enter("first request on the new version")
        del served  # that request makes a new Edition: the old one, and its flow, are dropped
        enter("idle")
    time.sleep(0.3)
    ticker.running = False
    ticker.join()
    worst: dict[str, list[float]] = {}
    for late, asked, woke in ticker.gaps:
        worst.setdefault(charged(asked, woke), []).append(late)
    return {phase: sorted(gaps)[-3:] for phase, gaps in worst.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--menus", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for phase, gaps in measure(args.menus, args.rounds).items():
        print(f"{phase:<45} longest waits: " + ", ".join(f"{g:.1f} ms" for g in reversed(gaps)))


if __name__ == "__main__":
    main()
