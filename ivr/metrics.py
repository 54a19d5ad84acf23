"""Prometheus metrics for the line, added up across gunicorn workers.

Under gunicorn, gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at a fresh folder per
server start, so every worker writes its counts there and GET /metrics sums them
(prometheus_client's multiprocess mode). Labels are routes, statuses, outcomes and flow
versions only: nothing from a caller, so never a number.
"""
from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge,
                               Histogram, generate_latest, multiprocess)

from ivr.db.schema import ENDED_STATUSES
from ivr.security import staff_only

REQUESTS = Counter("ivr_requests_total", "Requests answered, by route and HTTP status.",
                   ["route", "status"])
LATENCY = Histogram("ivr_request_seconds", "Time to answer a request, by route.", ["route"],
                    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0))
CALLS = Counter("ivr_calls_total", "Calls that reached the greeting.")
CALLS_ENDED = Counter("ivr_calls_ended_total", "Calls Twilio reported ended, by call status.", ["status"])
TRANSFERS = Counter("ivr_transfers_total", "Callers put through to counselors, by why: asked "
                    "(0 or a word), tries (silence or wrong keys), again.", ["reason"])
TRANSFER_OUTCOMES = Counter(
    "ivr_transfer_outcomes_total", "How each counselor ring ended (answered, no-answer, busy, failed, "
    "canceled, not-taken), and voicemail when nobody took the call.", ["outcome"])
CRISES = Counter("ivr_crisis_calls_total", "Times crisis words were heard and the caller was told what "
                 "to do now and put through (the words are never kept).")
CRISIS_LINE = Counter("ivr_crisis_line_total", "Crisis callers no counselor took, put through to the "
                      "crisis line instead of voicemail.")
RELOADS = Counter("ivr_flow_reloads_total", "Flow edits taken live (ok) or refused.", ["result"])
STORE_FAILURES = Counter(
    "ivr_store_failures_total", "Store operations that failed, by what was lost: events (call events and "
    "records, per row), callback (a message or its recording), screen (a counselor's 1), read.", ["what"])
FLOW_WORKERS = Gauge("ivr_flow_workers", "Workers serving each flow version.", ["version"],
                     multiprocess_mode="livesum")

RING_OUTCOMES = {"completed": "not-taken", "answered": "not-taken", "no-answer": "no-answer",
                 "busy": "busy", "failed": "failed", "canceled": "canceled"}
TRANSFER_REASONS = ("asked", "tries", "again", "crisis")

bp = Blueprint("metrics", __name__)


def init_app(app: Flask) -> None:
    """Count every request of the app (timed from ivr's request clock, g.started), and serve GET /metrics."""
    app.after_request(_count)
    app.register_blueprint(bp)


@bp.get("/metrics")
@staff_only
def metrics():
    """The counts in Prometheus text format, summed over every worker of this server."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=folder)
    for attempt in range(3):
        try:
            return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
        except FileNotFoundError:  # a worker that just ended took its file away mid-read: read again
            continue
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


_serving: dict = {}  # id(store) -> (process id, flow version) counted in ivr_flow_workers


def serving(store, version: str) -> None:
    """Note that this process serves `version` for this store; each process counts once per store.

    gunicorn builds the app in its master and forks it: a worker announces itself again
    (FlowStore.watch), and counts in its own file, while the master's count is dropped.
    """
    pid = os.getpid()
    before = _serving.get(id(store))
    if before == (pid, version):
        return
    FLOW_WORKERS.labels(version).inc()
    if before is not None and before[0] == pid:
        FLOW_WORKERS.labels(before[1]).dec()
    _serving[id(store)] = (pid, version)


def store_failed(what: str, count: int = 1) -> None:
    """Count store operations that failed (what: events, callback, screen, read, other)."""
    _child(STORE_FAILURES, what).inc(count)


def reloaded(ok: bool) -> None:
    """Count one flow reload, taken live or refused."""
    RELOADS.labels("ok" if ok else "refused").inc()


def _count(response: Response) -> Response:
    """Count the request, its latency, and the call events it stands for."""
    if request.environ.get("ivr.practice"):
        return response  # the browser phone's practice calls are not the line's calls
    rule = request.url_rule
    route = rule.rule if rule is not None else "unmatched"
    started = g.get("started")
    if started is not None:
        _child(LATENCY, route).observe(time.perf_counter() - started)
    _child(REQUESTS, route, str(response.status_code)).inc()
    step = g.get("step")
    if step is not None and response.status_code == 200:
        _count_step(request.endpoint, step["outcome"])
    elif request.endpoint == "voice.status" and response.status_code == 200 and request.form.get("CallSid"):
        status = request.form.get("CallStatus", "")
        CALLS_ENDED.labels(status if status in ENDED_STATUSES else "other").inc()
    return response


_children: dict = {}


def _child(metric, *labels):
    """A metric's child for these labels, looked up once (labels() takes a lock every time)."""
    key = (metric, labels)
    child = _children.get(key)
    if child is None:
        child = _children.setdefault(key, metric.labels(*labels))
    return child


def _count_step(endpoint: str, outcome: str) -> None:
    """Calls, transfers and how rings ended, from the step the engine took."""
    if endpoint == "voice.voice" and request.form.get("CallSid"):
        CALLS.inc()
    if outcome.startswith("transfer:"):
        reason = outcome.split(":", 1)[1]
        TRANSFERS.labels(reason if reason in TRANSFER_REASONS else "other").inc()
        if reason == "crisis":
            CRISES.inc()
    if outcome == "crisis_line":
        CRISIS_LINE.inc()
    if endpoint != "voice.dialed":
        return
    if outcome == "talked":
        TRANSFER_OUTCOMES.labels("answered").inc()
        return
    status = request.form.get("DialCallStatus", "failed")
    TRANSFER_OUTCOMES.labels(RING_OUTCOMES.get(status, "failed")).inc()
    if outcome == "voicemail":
        TRANSFER_OUTCOMES.labels("voicemail").inc()
    elif outcome == "crisis_line":
        TRANSFER_OUTCOMES.labels("crisis_line").inc()
