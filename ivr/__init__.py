"""The Recovery Helpline phone line: a Flask app that answers Twilio with TwiML."""
from __future__ import annotations

import logging
import time

from flask import Flask, g

from ivr.config import LineError, fixed_now, load_settings

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
    from ivr.live import LiveFlow

    settings = load_settings(config)  # SettingsError says what to set
    _configure_logging()
    from ivr.form import TwilioRequest

    app = Flask(__name__)
    app.request_class = TwilioRequest
    app.config.update(settings)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    storage = Storage(settings["DATABASE_URL"])  # StoreError: a URL that could never work
    try:
        store = LiveFlow(settings["IVR_CALL_FLOWS"])
    except FlowError as exc:
        # Refuse to start on a broken flow, saying where and what, for the operator: once, and
        # without a traceback (a FlowError is a LineError, whose words gunicorn and the `ivr`
        # commands print); said as the line's start refused, with what to do next.
        raise LineError(f"The line will not start: {settings['IVR_CALL_FLOWS']} has problems:\n{exc}\n"
                        "Fix them (run `ivr check` to see them again) and start it again.") from exc
    if settings["IVR_NOW"]:  # a time without an offset is the desk's, as `ivr call --at` reads it
        from ivr.staff import desk_zone
        app.config["IVR_NOW"] = fixed_now(settings["IVR_NOW"], desk_zone(store.flow)).isoformat()
    from ivr import accounts, audit, legs, lockout  # noqa: F401  (their tables join the store's schema)
    storage.start()  # a store that is down is said now, and calls go on
    from ivr import parts
    parts.register(app, store, storage)
    _warn_about(settings)

    from ivr import callback_call, metrics, recordings, sessions, simulator, staff, webhook
    from ivr.security import BodyLimit
    app.register_blueprint(webhook.bp)
    app.register_blueprint(simulator.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(sessions.bp)
    app.register_blueprint(recordings.bp)
    app.register_blueprint(callback_call.staff_bp)
    app.register_blueprint(callback_call.bp)
    metrics.init_app(app)
    app.before_request(_start_clock)
    app.wsgi_app = BodyLimit(app.wsgi_app, MAX_REQUEST_BYTES)  # chunked bodies too
    _announce_staff_access(settings)
    return app


def _announce_staff_access(settings: dict) -> None:
    """Say at start who the staff pages answer: accounts, or (with none) a loopback development line.

    Also the migration from the shared password: IVR_STAFF_PASSWORD becomes the account 'staff'
    when there is no account at all. A connection of its own, closed at once: gunicorn forks
    this process into the workers, which must not share its connections.
    """
    from ivr import accounts, db
    log = logging.getLogger("ivr")
    try:
        engine = db.connect(settings["DATABASE_URL"])
        try:
            made = accounts.bootstrap(engine, settings["IVR_STAFF_PASSWORD"])
            total = accounts.count(engine)
        finally:
            engine.dispose()
    except Exception as exc:
        log.warning("Could not tell whether staff accounts exist (%s): staff pages refuse everyone "
                    "until the database answers.", str(exc).splitlines()[0][:200])
        return
    if made:
        log.warning("IVR_STAFF_PASSWORD is now the staff account 'staff'. Give each person an account "
                    "(ivr staff add NAME), then `ivr staff remove staff` and unset IVR_STAFF_PASSWORD.")
    elif settings["IVR_STAFF_PASSWORD"] and total:
        log.warning("IVR_STAFF_PASSWORD is ignored: staff accounts exist. Unset it; "
                    "`ivr staff password NAME` changes a password.")
    if total:
        log.info("Staff pages (/staff, /simulator, /metrics) need a signed-in account (%d account%s).",
                 total, "" if total == 1 else "s")
    elif settings["IVR_ENV"] == "development":
        log.warning("No staff account: staff pages (/staff, /simulator, /metrics) answer only on a "
                    "loopback bind (127.0.0.1) in development, to this machine. Create one with: "
                    "ivr staff add YOUR-NAME")
    else:
        log.warning("No staff account: staff pages (/staff, /simulator, /metrics) refuse everyone. "
                    "Create one with: ivr staff add YOUR-NAME")


def _start_clock() -> None:
    """Note when the request began: the log line's and the metrics' latency."""
    g.started = time.perf_counter()


def _warn_about(settings: dict) -> None:
    """Say loudly, once per app (gunicorn preloads one for all workers), what is unsafe."""
    log = logging.getLogger("ivr")
    if not settings["TWILIO_AUTH_TOKEN"]:
        log.warning(NO_TOKEN_WARNING)


def _configure_logging() -> None:
    """Send the line's log lines to stderr once, unless the host set logging up already."""
    from ivr.privacy import RedactingFormatter

    logger = logging.getLogger("ivr")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
