"""A staff member's call-back from the helpline's number, through Twilio's Calls API.

"Call back now" on the callback page asks Twilio to ring the staff member's own phone from the
helpline's number. On answering they hear which message they are returning (its time and
language, never the number) and press 1; the line then dials the caller with the helpline's
number as caller ID. The callback's status follows the call: calling, talked, no answer.

The caller's number goes only to Twilio, inside the TwiML that dials it; it is never spoken,
logged, or put in a URL. Twilio's requests here carry a keyed token as well as its signature.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime

from flask import Blueprint, Response, current_app, redirect, request, url_for

from ivr import audit, db, parts, twiml
from ivr.call import clean_count
from ivr.security import staff_headers, staff_refusal, twilio_only
from ivr.twilio_api import E164, TwilioFailed, failures

staff_bp = Blueprint("callback_call", __name__, url_prefix="/staff")
staff_bp.before_request(staff_refusal)  # the staff pages' gate
staff_bp.after_request(staff_headers)
bp = Blueprint("callback_voice", __name__, url_prefix="/voice/callback")
log = logging.getLogger("ivr.callback_call")

RING_SECONDS = 30
EVENTS = ["initiated", "ringing", "answered", "completed"]
DIALED = {"completed": "talked", "answered": "talked"}  # any other DialCallStatus: no answer


# -- the staff member asks ----------------------------------------------------------------------

@staff_bp.post("/callbacks/<int:callback_id>/call")
def start(callback_id: int):
    """Ring the staff member's phone from the helpline's number, to call back one caller."""
    from ivr.staff import _page, form_token
    if not hmac.compare_digest(request.form.get("token", ""), form_token(callback_id)):
        return _page([], 403, problem="This call-back did not come from the callback page, so nobody "
                     "was called. Reload the list and use its buttons.")
    phone = (request.form.get("phone") or staff_phone() or "").strip().replace(" ", "")
    problem = _cannot_call(callback_id, phone)
    if problem:
        return _page([], 400 if "phone" in problem else 503, problem=problem)
    # Written to the audit trail before Twilio is asked: what cannot be recorded is not done.
    if not audit.written_here("call back", f"callback {callback_id}"):
        return _page([], 503, problem="The audit trail can't be written right now (the database is "
                     "unreachable), so nobody was called. Try again in a minute.")
    account = parts.twilio()
    base = current_app.config["IVR_PUBLIC_URL"].rstrip("/")
    token = call_token(callback_id)
    try:
        with failures("ring your phone"):
            made = account.client.calls.create(
                to=phone, from_=account.number, method="POST", timeout=RING_SECONDS,
                url=base + url_for("callback_voice.answer", cb=callback_id, t=token),
                status_callback=base + url_for("callback_voice.status", cb=callback_id, t=token),
                status_callback_method="POST", status_callback_event=EVENTS)
    except TwilioFailed as exc:
        log.warning("could not start the call-back of callback %d: %s", callback_id, exc)
        return _page([], 502, problem=f"Nobody was called: {exc}")
    parts.storage().attempt("note a call-back", db.follow_call, callback_id, "calling")
    log.info("call-back of callback %d started (CallSid %s)", callback_id, made.sid)
    return redirect(url_for("staff.callbacks", calling=callback_id), 303)


def staff_phone() -> str | None:
    """The signed-in staff member's own phone, from their account (`ivr staff add NAME --phone`)."""
    from flask import g

    from ivr import accounts
    who = g.get("staff")
    if not who:
        return None
    return parts.storage().attempt("read a staff phone", accounts.phone_of, who)


def _cannot_call(callback_id: int, phone: str) -> str:
    """Why this call-back cannot start, for staff ('' when it can)."""
    account = parts.twilio()
    if account.off:
        return f"Calling back from the helpline is off. {account.off}"
    if not account.number:
        return ("Calling back from the helpline is off: the line has no number of its own. Set "
                "line.number in call_flows.yaml (or IVR_LINE_NUMBER), like +18564437701.")
    if not current_app.config["IVR_PUBLIC_URL"]:
        return ("Calling back from the helpline is off: set IVR_PUBLIC_URL, the address Twilio "
                "reaches this line at, so Twilio can ask it what to say.")
    if not E164.fullmatch(phone):
        return ("Type the phone you want to be rung on in the phone field, in E.164 form "
                "(like +15551234567), then press Call back now.")
    row = parts.storage().attempt("read a callback", db.get_callback, callback_id)
    if row is None:
        return f"There is no callback request #{callback_id} (or the database is unreachable); reload the list."
    if not E164.fullmatch(row["caller"] or ""):
        return f"Callback #{callback_id} has no number to call back (the caller's number was withheld)."
    return ""


def call_token(callback_id: int) -> str:
    """The keyed token in Twilio's URLs for one call-back: nobody else can ask for its TwiML."""
    key = current_app.config["IVR_SECRET_KEY"].encode()
    return hmac.new(key, f"callback-call:{callback_id}".encode(), hashlib.sha256).hexdigest()[:32]


# -- Twilio's side ------------------------------------------------------------------------------

def _callback() -> dict | None:
    """The callback request a Twilio request is about, checked by its keyed token (None: unknown)."""
    callback_id = clean_count(request.args.get("cb"), 10**12)
    if callback_id is None or not hmac.compare_digest(request.args.get("t", ""), call_token(callback_id)):
        log.warning("a call-back request to %s without its token was refused", request.path)
        return None
    return parts.storage().attempt("read a callback", db.get_callback, callback_id)


UNKNOWN = "This call-back is not known to the helpline line, so nobody was called. Goodbye."


def _voice() -> tuple[str, str]:
    """The line's first language's voice: staff hear the line's own language."""
    flow = parts.flow()
    lang = flow.languages[flow.default_language]
    return lang.voice, lang.speech


def _xml(text: str) -> Response:
    return Response(text, mimetype="text/xml")


@bp.errorhandler(Exception)
def failed(exc):
    """A failure inside a call-back webhook: logged with the CallSid, answered with the line's safe TwiML."""
    from ivr.webhook import call_sid, safe_twiml
    if getattr(exc, "code", None) and 400 <= exc.code < 500:
        return exc
    log.exception("call-back webhook failed on %s (CallSid %s)", request.path, call_sid() or "-")
    return _xml(safe_twiml())  # Twilio never gets an error: the apology and the counselor line


@bp.post("/answer")
@twilio_only
def answer():
    """The staff member answered: which message this is, and press 1 to call the caller."""
    row = _callback()
    if row is None:  # Twilio never gets an error from the line: a goodbye instead
        return _xml(twiml.goodbye(UNKNOWN, *_voice()))
    again = None if request.args.get("again") else url_for(
        "callback_voice.answer", cb=row["id"], t=request.args["t"], again="1")
    action = url_for("callback_voice.connect", cb=row["id"], t=request.args["t"])
    return _xml(twiml.callback_intro(about(row), *_voice(), action, again))


def about(row: dict) -> str:
    """Which message a call-back returns: its day, time and language; never the number."""
    from ivr.staff import desk_zone
    flow = parts.flow()
    when = db.as_utc(row["created_at"]).astimezone(desk_zone(flow))
    lang = row["lang"] if row["lang"] in flow.languages else flow.default_language
    length = f", {row['recording_seconds']} seconds long" if row["recording_seconds"] else ""
    return (f"Helpline call-back. You are returning the message left on {_spoken_day(when)} at "
            f"{_spoken_time(when)}, in {flow.language_name(lang)}{length}. "
            "Press 1 to call the caller now, from the helpline's number.")


def _spoken_day(when: datetime) -> str:
    """A day as said aloud: Tuesday, December 1."""
    return f"{when:%A, %B} {when.day}"


def _spoken_time(when: datetime) -> str:
    """A time as said aloud: 9:05 AM."""
    return f"{when:%I:%M %p}".lstrip("0")


@bp.post("/connect")
@twilio_only
def connect():
    """The staff member's key: 1 dials the caller with the helpline's number as caller ID."""
    row = _callback()
    voice = _voice()
    if row is None:
        return _xml(twiml.goodbye(UNKNOWN, *voice))
    storage = parts.storage()
    if request.form.get("Digits") != "1":
        storage.attempt("note a call-back", db.follow_call, row["id"], "new", ("calling",))
        return _xml(twiml.goodbye("Nobody was called. Goodbye.", *voice))
    account = parts.twilio()
    if account.off or not account.number or not E164.fullmatch(row["caller"] or ""):
        return _xml(twiml.goodbye("This call-back cannot be made from the helpline now. Goodbye.", *voice))
    action = url_for("callback_voice.dialed", cb=row["id"], t=request.args["t"])
    return _xml(twiml.callback_dial("Calling them now, from the helpline's number.", *voice,
                                    row["caller"], account.number, action))


@bp.post("/dialed")
@twilio_only
def dialed():
    """The caller's ring ended: talked, or no answer."""
    row = _callback()
    if row is None:
        return _xml(twiml.goodbye(UNKNOWN, *_voice()))
    outcome = DIALED.get(request.form.get("DialCallStatus", ""), "no_answer")
    parts.storage().attempt("note a call-back", db.follow_call, row["id"], outcome)
    log.info("call-back of callback %d: %s", row["id"], outcome)
    words = "The call has ended." if outcome == "talked" else \
        "They did not answer. The callback stays on the list as no answer."
    return _xml(twiml.goodbye(words + " Goodbye.", *_voice()))


@bp.post("/status")
@twilio_only
def status():
    """The staff member's own leg: if it ended before the caller was dialed, the callback waits again."""
    row = _callback()
    if row is not None and request.form.get("CallStatus") in ("completed", "busy", "no-answer", "failed", "canceled"):
        # Only a call-back still "calling" goes back: one the caller's ring decided stays as it is.
        parts.storage().attempt("note a call-back", db.follow_call, row["id"], "new",
                                                 ("calling",))
    return _xml("<Response/>")
