"""The Recovery Helpline phone line: a Flask app that answers Twilio with TwiML."""
from __future__ import annotations

import logging
import sys
import time

from flask import Flask, g

from ivr.config import load_settings

__all__ = ["create_app"]
MAX_REQUEST_BYTES = 64 * 1024  # Twilio's webhooks are a few hundred bytes; refuse floods early
NO_TOKEN_WARNING = (
    "\n!!! TWILIO_AUTH_TOKEN is not set: the webhooks accept UNSIGNED requests from anyone.\n"
    "!!! Fine on a laptop; never for a real number. Set TWILIO_AUTH_TOKEN and IVR_PUBLIC_URL,\n"
    "!!! or IVR_ENV=production, which refuses to start without them.")


def create_app(config: dict | None = None) -> Flask:
    """Build the app from the environment (and `config` overrides, for tests)."""
    from ivr.db import Storage
    from ivr.problem import FlowError
    from ivr.store import FlowStore
    from ivr.twiml import RenderCache

    settings = load_settings(config)  # SettingsError says what to set
    _configure_logging()
    from ivr.form import TwilioRequest

    app = Flask(__name__)
    app.request_class = TwilioRequest
    app.config.update(settings)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    try:
        app.extensions["ivr.store"] = FlowStore(settings["IVR_CALL_FLOWS"])
    except FlowError as exc:
        # Refuse to start on a broken flow, saying where and what, for the operator.
        print(f"The line will not start: {settings['IVR_CALL_FLOWS']} has problems:\n{exc}\n"
              "Fix them (run `ivr check` to see them again) and start it again.", file=sys.stderr)
        raise
    app.extensions["ivr.db"] = Storage(settings["DATABASE_URL"])
    app.extensions["ivr.twiml"] = RenderCache()
    _warn_about(settings)

    from ivr import callback_call, metrics, recordings, simulator, staff, webhook
    app.register_blueprint(webhook.bp)
    app.register_blueprint(simulator.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(recordings.bp)
    app.register_blueprint(callback_call.staff_bp)
    app.register_blueprint(callback_call.bp)
    metrics.init_app(app)
    app.before_request(_start_clock)
    return app


def _start_clock() -> None:
    """Note when the request began: the log line's and the metrics' latency."""
    g.started = time.perf_counter()


def _warn_about(settings: dict) -> None:
    """Say loudly, once per app (gunicorn preloads one for all workers), what is unsafe."""
    log = logging.getLogger("ivr")
    if not settings["TWILIO_AUTH_TOKEN"]:
        log.warning(NO_TOKEN_WARNING)
    if settings["IVR_ENV"] == "production" and not settings["IVR_STAFF_PASSWORD"]:
        log.warning("IVR_STAFF_PASSWORD is not set: the staff pages stay locked until it is.")


def _configure_logging() -> None:
    """Send the line's log lines to stderr once, unless the host set logging up already."""
    from ivr.privacy import RedactingFormatter

    logger = logging.getLogger("ivr")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
