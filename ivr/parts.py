"""The app's parts, registered and looked up in one place (as flaskr's `get_db()`).

Views, the command line and the tests ask here for the live flow, the flow a request is
served with, its caches, the database and the Twilio account; nothing else reads
`app.extensions`. Given an `app`, that app's; without, the current request's (as `g` is).
"""
from __future__ import annotations

from flask import Flask, current_app, g, request

from ivr.edition import Edition

LIVE_FLOW, STORAGE, EDITION, TWILIO = "ivr.live_flow", "ivr.db", "ivr.edition", "ivr.twilio"
# Set by the browser phone on the requests of a practice call: its calls are kept nowhere.
STORAGE_OVERRIDE = "ivr.storage"


def register(app: Flask, live, storage) -> None:
    """Give the app its live flow (ivr.live.LiveFlow) and its database facade (ivr.db.Storage)."""
    app.extensions[LIVE_FLOW] = live
    app.extensions[STORAGE] = storage
    app.extensions[EDITION] = Edition(live.flow)


def live_flow(app: Flask | None = None):
    """The live flow (ivr.live.LiveFlow): the last good flow, reloaded when its files change; None before one is registered."""
    return (app or current_app).extensions.get(LIVE_FLOW)


def flow(app: Flask | None = None):
    """The flow to serve now; without `app`, read once a request, so the whole request is served by one version."""
    if app is not None:
        return live_flow(app).current()
    if "flow" not in g:
        g.flow = live_flow().current()
    return g.flow


def last_good_flow(app: Flask | None = None):
    """The flow last loaded, without looking at its files, or None: for the fallback, which must not fail."""
    return getattr(live_flow(app), "flow", None)


def edition() -> Edition:
    """This request's flow version with what is kept for it (rendered TwiML, the desk's hours by minute).

    The app keeps the live version's; when a new version goes live, the first request served
    with it makes its Edition, and the old one's caches go with the old one.
    """
    served, registered = flow(), current_app.extensions
    held = registered[EDITION]
    if held.flow is not served:
        held = Edition(served)
        # A request that began on an older version finishes uncached rather than evicting the new one.
        if served is getattr(registered[LIVE_FLOW], "flow", None):
            registered[EDITION] = held
    return held


def storage(app: Flask | None = None):
    """The database facade (ivr.db.Storage), None before one is registered; without `app`, in a
    practice call's request, the browser phone's scratch store."""
    if app is not None:
        return app.extensions.get(STORAGE)
    return request.environ.get(STORAGE_OVERRIDE) or current_app.extensions.get(STORAGE)


def twilio(app: Flask | None = None):
    """The Twilio REST account (ivr.twilio_api.Account), made once, and again when the flow's number changes."""
    from ivr.twilio_api import account
    served = flow(app)
    app = app or current_app
    made = app.extensions.get(TWILIO)
    if made is None or made[0] != served.number:
        made = app.extensions[TWILIO] = (served.number, account(app.config, served))
    return made[1]
