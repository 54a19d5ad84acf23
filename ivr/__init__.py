"""The Recovery Helpline phone line: a Flask app that answers Twilio with TwiML."""
from __future__ import annotations

import logging
import sys

from flask import Flask

from ivr.config import load_settings

__all__ = ["create_app"]


def create_app(config: dict | None = None) -> Flask:
    """Build the app from the environment (and `config` overrides, for tests)."""
    from ivr.db import Storage
    from ivr.problem import FlowError
    from ivr.store import FlowStore

    settings = load_settings(config)
    _configure_logging()
    app = Flask(__name__)
    app.config.update(settings)
    try:
        app.extensions["ivr.store"] = FlowStore(settings["IVR_CALL_FLOWS"])
    except FlowError as exc:
        # Refuse to start on a broken flow, saying where and what, for the operator.
        print(f"The line will not start: {settings['IVR_CALL_FLOWS']} has problems:\n{exc}\n"
              "Fix them (run `ivr check` to see them again) and start it again.", file=sys.stderr)
        raise
    app.extensions["ivr.db"] = Storage(settings["DATABASE_URL"])
    if not settings["TWILIO_AUTH_TOKEN"]:
        logging.getLogger("ivr").warning(
            "TWILIO_AUTH_TOKEN is not set: webhooks accept unsigned requests. Fine for development, "
            "never for a real number.")

    from ivr import simulator, webhook
    app.register_blueprint(webhook.bp)
    app.register_blueprint(simulator.bp)
    from ivr import staff  # the callback list for staff (/staff/callbacks)
    app.register_blueprint(staff.bp)
    return app


def _configure_logging() -> None:
    """Send the line's log lines to stderr once, unless the host set logging up already."""
    logger = logging.getLogger("ivr")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
