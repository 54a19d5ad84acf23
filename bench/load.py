"""The load generator: replays signed, Twilio-shaped calls over keep-alive HTTP connections.

Run by bench/run.py as a separate process: `python bench/load.py JOB.json OUT.json`. Each
connection plays whole calls, one step after another as Twilio would, each call with fresh
CallSids and signatures prepared before the clock starts. Bounded in time and in count.
"""
from __future__ import annotations

import http.client
import json
import re
import secrets
import sys
import threading
import time
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

SID = re.compile(r"\b(CA|RE)[0-9a-f]{32}\b")
HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "TwilioProxy/1.1",
           "Accept": "*/*", "Cache-Control": "max-age=259200"}


def prepare(job: dict) -> list[list[tuple]]:
    """Sign every call of the job with its own CallSids: a list of calls of (path, body, headers)."""
    validator = RequestValidator(job["token"])
    public = job["public_url"].rstrip("/")
    calls = []
    for n in range(job["prepared"]):
        template = job["calls"][n % len(job["calls"])]
        fresh: dict = {}

        def swap(text: str) -> str:
            return SID.sub(lambda m: fresh.setdefault(m.group(0), m.group(1) + secrets.token_hex(16)), text)

        steps = []
        for path, form in template:
            path = swap(path)
            form = {k: swap(v) for k, v in form.items()}
            signature = validator.compute_signature(public + path, form)
            steps.append((path, urlencode(form).encode(), {**HEADERS, "X-Twilio-Signature": signature}))
        calls.append(steps)
    return calls


def play(job: dict, calls: list, index: int, stop_at: float, budget: list, out: list) -> None:
    """One connection: play calls until the time or the request budget runs out.

    With a `rate` (requests per second, all connections together) each connection sends on a
    fixed schedule and a request's latency counts from when it was due, so a slow answer also
    counts the wait it caused for the next ones (no coordinated omission).
    """
    conn = http.client.HTTPConnection(job["host"], job["port"], timeout=30)
    position = index
    rate = job.get("rate")
    interval = job["connections"] / rate if rate else 0.0
    due = time.monotonic() + interval * index / job["connections"]
    while True:
        for path, body, headers in calls[position % len(calls)]:
            if time.monotonic() >= stop_at or not _take(budget):
                conn.close()
                return
            if rate:
                time.sleep(max(0.0, due - time.monotonic()))
                started, due = due, due + interval
            else:
                started = time.monotonic()
            status, size = _send(conn, path, body, headers)
            out.append((started, time.monotonic() - started, status, size))
        position += job["connections"]


_budget_lock = threading.Lock()
RECONNECTS: list = []  # a kept-alive connection the server had closed (appends are thread-safe)


def _take(budget: list) -> bool:
    """Take one request from the shared budget; False when it is spent."""
    with _budget_lock:
        if budget[0] <= 0:
            return False
        budget[0] -= 1
        return True


def _send(conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict) -> tuple:
    """POST one step; reconnect once when the server closed a kept-alive connection."""
    for attempt in (1, 2):
        try:
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            data = response.read()
            ok = data.startswith(b"<?xml") or data.startswith(b"<Response")
            return (response.status if ok or response.status != 200 else 0), len(data)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            RECONNECTS.append(1)
            conn.close()
            if attempt == 2:
                return -1, 0
        except OSError:
            conn.close()
            return -1, 0
    return -1, 0


def run(job: dict) -> dict:
    """Run the job: warm up, measure, and summarise the measured window."""
    calls = prepare(job)
    begin = time.monotonic()
    measure_from = begin + job["warmup"]
    stop_at = measure_from + job["seconds"]
    budget = [job["max_requests"]]
    results: list = []
    threads = [threading.Thread(target=play, args=(job, calls, i, stop_at, budget, results))
               for i in range(job["connections"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    measured = [r for r in results if r[0] >= measure_from]
    warmup_requests = len(results) - len(measured)
    window = min(stop_at, max((r[0] + r[1] for r in measured), default=stop_at)) - measure_from
    latencies = sorted(r[1] * 1000 for r in measured)  # in milliseconds
    summary = {
        "requests": len(measured), "errors": sum(1 for r in measured if r[2] != 200),
        "seconds": round(window, 3), "rps": round(len(measured) / window, 1) if window > 0 else 0.0,
        "p50_ms": percentile(latencies, 0.50), "p90_ms": percentile(latencies, 0.90),
        "p99_ms": percentile(latencies, 0.99), "max_ms": round(latencies[-1], 2) if latencies else None,
        "bytes": sum(r[3] for r in measured), "reconnects": len(RECONNECTS), "warmup_requests": warmup_requests,
    }
    if job.get("samples"):
        # Start times on the machine's monotonic clock, which bench/run.py shares.
        summary["samples"] = [(round(r[0], 4), round(r[1] * 1000, 3)) for r in measured]
    return summary


def percentile(values: list, q: float):
    """A percentile (nearest rank) of sorted values, rounded to two decimals (bench/run.py uses it too)."""
    return round(values[min(len(values) - 1, int(q * len(values)))], 2) if values else None


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        job = json.load(f)
    result = run(job)
    with open(sys.argv[2], "w") as f:
        json.dump(result, f)
