"""The line with parts of its per-request work switched off: what each part costs (bench/run.py --parts).

Never a way to run the line: every part switched off here is one the line must do. It only
shows how far the line could get towards the baseline without them. IVR_BENCH_OFF names the
parts, comma-separated: store (no database writes or reads), log (no JSON line per webhook:
gunicorn's access line is written for it instead, as for any other request),
metrics (no Prometheus counts), signature (X-Twilio-Signature accepted unchecked).
"""
import os

PARTS = ("store", "log", "metrics", "signature")


def create_app():
    """The line, as ivr.create_app builds it, less the parts IVR_BENCH_OFF names."""
    from ivr import create_app as line_app
    from ivr import db, metrics, security, webhook

    off = {part for part in os.environ.get("IVR_BENCH_OFF", "").split(",") if part}
    unknown = off - set(PARTS)
    if unknown:
        raise SystemExit(f"IVR_BENCH_OFF: unknown part(s) {', '.join(sorted(unknown))}; known: {', '.join(PARTS)}")
    if "store" in off:
        db.EventSink._write = lambda self, batch: None
        db.Storage.attempt = lambda self, what, func, *args, default=None: default
    if "signature" in off:
        security.is_signed = lambda: True
    app = line_app()
    if "metrics" in off:
        app.after_request_funcs[None].remove(metrics._count)
    if "log" in off:
        app.after_request_funcs["voice"].remove(webhook.log_step)
    return app
