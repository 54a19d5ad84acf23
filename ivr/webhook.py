"""The Twilio webhooks: parse the request, ask the engine, answer with TwiML.

Nothing here decides what a caller hears; ivr.call does. Every answer is TwiML, even when
something inside fails: Twilio never sees a 500 from us.
"""
from __future__ import annotations

import json
import os
import logging
import time
from datetime import datetime, timezone
from functools import lru_cache, partial
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from flask import (Blueprint, Response, abort, current_app, g, jsonify, request,
                   send_from_directory, url_for)

from ivr import call, db, legs, parts, twiml
from ivr.config import fixed_now
from ivr.edition import Edition
from ivr.flow import Flow
from ivr.outcome import Outcome
from ivr.privacy import caller_key
from ivr.security import recording_link, twilio_only
from ivr.twiml import render

bp = Blueprint("voice", __name__)
log = logging.getLogger("ivr.calls")

ROUTES = {"answer": "voice.answer", "silence": "voice.silence", "dialed": "voice.dialed",
          "whisper": "voice.whisper", "screened": "voice.screened", "recorded": "voice.recorded",
          "recording": "voice.recording", "audio": "voice.audio", "fallback": "voice.fallback"}


# -- helpers the views share ----------------------------------------------------------------

def now() -> datetime:
    """The time the line decides hours by: IVR_NOW, a simulator's choice, or the clock (once a request)."""
    if "now" not in g:
        fixed = request.environ.get("ivr.now") or current_app.config["IVR_NOW"]
        g.now = _fixed(fixed) if fixed else datetime.now(timezone.utc)
    return g.now


@lru_cache(maxsize=64)
def _fixed(text: str) -> datetime:
    """IVR_NOW (or a simulator's time) read once per distinct text."""
    return fixed_now(text)


def current_state() -> call.CallState:
    """Where this request's call is, from the URL, read once."""
    if "state" not in g:
        g.state = call.read_state(parts.flow(), request.args)
    return g.state


def call_sid(name: str = "CallSid") -> str:
    """A Twilio id from the request form, or '' when it is missing or not shaped like one."""
    return call.clean_sid(request.form.get(name))


def _parent_sid() -> str:
    """The caller's leg of a screened ring: ParentCallSid, the carried `c`, or this call."""
    return call_sid("ParentCallSid") or call.clean_sid(request.args.get("c")) or call_sid()


# Rendered TwiML is kept and reused (ivr.twiml.RenderCache), so the caller's CallSid goes in
# as this stand-in and is put in place after. Letters and digits only: URLs and XML keep it as is.
STAND_IN = "CAxStandInForTheCallersCallSidx00"


def _url(route: str, params: dict, parent: str | None = None) -> str:
    """A root-relative URL for an engine route, carrying the call's state."""
    if route in ("whisper", "screened"):
        parent = parent or _parent_sid()
        if parent:
            params = {**params, "c": parent}
    return url_for(ROUTES[route], **params)


def _answer(reply: call.Reply, kind: str) -> Response:
    """Render a reply as TwiML and note the step for the log and the statistics."""
    edition = parts.edition()
    g.step = {"node": reply.node, "input": kind, "outcome": reply.outcome}
    sid = call_sid()
    if sid and request.endpoint not in ("voice.whisper", "voice.screened"):
        state = current_state()
        parts.storage().event(call_sid=sid, node=reply.node or state.node, input_kind=kind, lang=state.lang,
                              outcome=reply.outcome[:64], after_hours=edition.after_hours(now()))
        if reply.outcome.is_transfer:
            parts.storage().note("transferred", sid)
    return Response(_render(reply, edition), mimetype="text/xml")


def _render(reply: call.Reply, edition: Edition) -> str:
    """The reply's TwiML, rendered once per flow version and reply and kept."""
    parent = _parent_sid()
    if not parent:  # no CallSid to stand in for: render as it comes
        return render(reply, edition.flow, _url)
    text = edition.render(reply, partial(_url, parent=STAND_IN), request.script_root)
    return text.replace(STAND_IN, parent)


def _input_kind() -> str:
    """Name what the caller gave: keys, words or nothing."""
    if request.form.get("Digits"):
        return "dtmf"
    if request.form.get("SpeechResult"):
        return "speech"
    return "none"


def safe_twiml() -> str:
    """The apology and counselor line, built without the database or a readable flow file."""
    flow = parts.last_good_flow()
    if flow is not None:
        try:
            held = _failed_call(flow)
            reply = call.fallback(flow, now(), held.get("l"), "x" in held)
            return twiml.fallback(reply, flow, _url)
        except Exception:  # even a strange flow must not stop the apology and the ring
            log.exception("the fallback could not use the loaded flow; using the fixed one")
    # No flow was ever loaded (the server refuses to start without one): no numbers to ring,
    # so the caller goes straight to the fallback's message recording.
    return twiml.apology(call.FALLBACK_TEXT, url_for("voice.fallback", step="after"))


def _failed_call(flow: Flow) -> dict:
    """The language (and crisis) of the call that failed: from our URL, or from the ErrorUrl
    Twilio sends to the fallback (the URL that failed, which carries l= and x=)."""
    params = {k: v for k, v in request.args.items() if k in ("l", "x")}
    if "l" not in params:
        failed_url = str(request.form.get("ErrorUrl") or "")[:2000]
        query = parse_qs(urlsplit(failed_url).query)
        params = {k: query[k][0] for k in ("l", "x") if query.get(k)}
    out = {}
    if params.get("l") in flow.languages:
        out["l"] = params["l"]
    if params.get("x") == "1":
        out["x"] = "1"
    return out


@bp.errorhandler(Exception)
def failed(exc):
    """Any failure inside a webhook: log it with the CallSid, answer with safe TwiML."""
    if getattr(exc, "code", None) and 400 <= exc.code < 500:
        return exc
    log.exception("webhook failed on %s (CallSid %s)", request.path, call_sid() or "-")
    g.step = {"node": "", "input": "", "outcome": "error"}
    return Response(safe_twiml(), mimetype="text/xml")


@bp.after_request
def log_step(response: Response) -> Response:
    """One JSON line per request to these routes: CallSid, node, input kind, outcome and latency,
    and what gunicorn's access line would say (method, status, bytes, the proxy's address).

    It stands in for that access line (gunicorn.conf.py skips a request marked "ivr.logged"):
    one line per webhook instead of two, for the log host and for the worker's time.
    """
    if not log.isEnabledFor(logging.INFO):
        return response  # the host turned these off: gunicorn's access line stays
    step = g.get("step") or NO_STEP
    started = g.get("started") or time.perf_counter()
    log.info(json.dumps({
        # A refused request's form may be what was wrong with it (too big): not read again here.
        "route": request.path, "call": call_sid() if response.status_code < 400 else "",
        "node": step["node"], "input": step["input"], "outcome": step["outcome"],
        "status": response.status_code, "ms": round((time.perf_counter() - started) * 1000, 1),
        "method": request.method, "bytes": response.content_length, "from": request.remote_addr,
    }))
    request.environ["ivr.logged"] = True
    return response


NO_STEP = {"node": "", "input": "", "outcome": ""}  # a request that took no step (status, refusals)


# -- the webhooks ----------------------------------------------------------------------------

@bp.post("/voice")
@twilio_only
def voice():
    """A call comes in: the greeting and the main menu."""
    if call_sid():
        key = caller_key(current_app.config["IVR_SECRET_KEY"], request.form.get("From"))
        parts.storage().note("started", call_sid(), caller_key=key)
    flow = parts.flow()
    lang = request.args.get("l")  # a number for one language points at /voice?l=es
    return _answer(call.greet(flow, now(), lang if lang in flow.languages else None), "call")


@bp.post("/voice/answer")
@twilio_only
def answer():
    """A key or words at a menu (the Gather action)."""
    flow = parts.flow()
    state = current_state()
    reply = call.answer(flow, state, request.form.get("Digits"), request.form.get("SpeechResult"), now())
    return _answer(reply, _input_kind())


@bp.post("/voice/silence")
@twilio_only
def silence():
    """The caller gave nothing before the Gather timed out (the fall-through Redirect)."""
    flow = parts.flow()
    return _answer(call.silence(flow, current_state(), now()), "silence")


@bp.post("/voice/dialed")
@twilio_only
def dialed():
    """A ring ended (the Dial action): a counselor took it, or we lead on."""
    flow = parts.flow()
    state = current_state()
    status = request.form.get("DialCallStatus", "failed")
    status = status if status in call.DIAL_STATUSES else "failed"
    index = call.clean_count(request.args.get("i"), 99) or 0
    accepted = False
    if status in ("completed", "answered"):  # None: the store could not say
        accepted = parts.storage().attempt("read a screened answer", db.was_accepted, call_sid(),
                                     default=None) if call_sid() else None
    reply = call.dialed(flow, state, request.args.get("g", ""), index, status, accepted, now(),
                        call.clean_count(request.form.get("DialCallDuration"), 10**6) or 0)
    return _answer(reply, f"dial:{status}")  # the ring's result, for the statistics


@bp.post("/voice/whisper")
@twilio_only
def whisper():
    """What a counselor hears on answering: press 1 to take the call."""
    parent = call_sid("ParentCallSid")
    if parent and call_sid() and parent != call_sid():  # a leg our <Dial> rang: its "1" may count
        parts.storage().attempt("note a counselor's leg", legs.note, call_sid(), parent)
    return _answer(call.whisper(parts.flow(), request.args), "whisper")


@bp.post("/voice/screened")
@twilio_only
def screened():
    """The counselor's key after the whisper: 1 takes the call, anything else declines."""
    reply = call.screened(request.form.get("Digits"))
    parent = call_sid("ParentCallSid")
    carried = call.clean_sid(request.args.get("c"))
    # Only a leg the line rang (and whispered to) for this very call can take it.
    if (reply.outcome == Outcome.ACCEPTED and parent and carried in ("", parent)
            and parts.storage().attempt("check a counselor's leg", legs.dialed, call_sid(), parent, default=False)):
        parts.storage().attempt("note a screened answer", db.mark_accepted, parent)
    return _answer(reply, "dtmf")


@bp.post("/voice/recorded")
@twilio_only
def recorded():
    """A message was recorded (the Record action): store the callback request."""
    flow = parts.flow()
    state = current_state()
    form = request.form
    recording = recording_link(form.get("RecordingUrl"))
    seconds = call.clean_count(form.get("RecordingDuration"), 86400)
    # No link, or a recording with no length (0 s): nothing to call back about.
    has_message = bool(recording) and not request.args.get("empty") and seconds != 0
    stored = False
    if has_message:
        stored = parts.storage().attempt(  # the CallSid lets an operator find a lost message in Twilio's console
            f"store the callback request of CallSid {call_sid() or '-'}",
            db.save_callback, call_sid(), _caller_number(), state.lang, ".".join(state.path),
            recording, seconds, default=False)
    return _answer(call.recorded(flow, state, has_message, stored=stored), "record")


def _caller_number() -> str:
    """The caller's number for a callback (staff need it), or a withheld-number word; bounded."""
    number = str(request.form.get("From") or "")
    return number if call.PHONE.fullmatch(number) else ""


@bp.post("/voice/recording")
@twilio_only
def recording():
    """Twilio's recording status callback: the finished recording's length."""
    form = request.form
    recording = recording_link(form.get("RecordingUrl"))
    finished = form.get("RecordingStatus", "completed") == "completed"  # not "absent" (silent)
    seconds = call.clean_count(form.get("RecordingDuration"), 86400)
    if finished and recording and call_sid() and seconds != 0:  # 0 s: no message to return
        state = current_state()
        parts.storage().attempt(f"update the recording of CallSid {call_sid()}", db.recording_done,
                          call_sid(), recording, seconds, state.lang, ".".join(state.path))
    return Response("<Response/>", mimetype="text/xml")


@bp.post("/status")
@twilio_only
def status():
    """Twilio's call status callback: how the call ended."""
    form = request.form
    if call_sid():
        key = caller_key(current_app.config["IVR_SECRET_KEY"], form.get("From"))
        status = form.get("CallStatus", "")
        parts.storage().note("ended", call_sid(), status=status if status in db.CALL_STATUSES else "unknown",
                       duration=call.clean_count(form.get("CallDuration"), 10**6), caller_key=key)
    return Response("<Response/>", mimetype="text/xml")


@bp.route("/fallback", methods=["GET", "POST"])
@twilio_only
def fallback():
    """Twilio's fallback: a short apology, then the counselor line; no flow file or store needed."""
    if request.args.get("step") == "after":
        if request.form.get("DialCallStatus") == "completed":
            return Response(twiml.hangup(), mimetype="text/xml")
        return Response(_fallback_message(), mimetype="text/xml")
    return Response(safe_twiml(), mimetype="text/xml")


def _fallback_message() -> str:
    """When the fallback's ring finds nobody: the voicemail notice, then a recording."""
    flow = parts.last_good_flow()
    if flow is not None:
        held = _failed_call(flow)
        state = call.CallState(flow.start, held.get("l", flow.default_language), crisis="x" in held)
        return render(call.voicemail(flow, state, busy=True), flow, _url)
    return twiml.fallback_recording(url_for("voice.recorded"), url_for("voice.recorded", empty="1"))


@bp.get("/audio/<lang>/<file>")
def audio(lang: str, file: str):
    """A recorded prompt, with caching headers; only files the flow names."""
    flow = parts.flow()
    if (lang, Path(file).stem) not in flow.audio or flow.audio[(lang, Path(file).stem)] != file:
        abort(404)
    folder = Path(flow.path).parent / "prompts" / lang
    # A day: the URL carries the flow's version, so a new recording comes with a new URL.
    return send_from_directory(folder, file, max_age=86400)


@bp.get("/healthz")
def healthz():
    """Which flow is loaded, when, the last reload error and the store's state; 503 without a valid flow.

    A store that is down still answers 200: calls are answered, so the line is up; what it
    cannot do is said under "store" (and in "status").
    """
    store = parts.live_flow()
    flow = store.current() if store else None
    if flow is None:
        return jsonify(status="no valid flow loaded"), 503
    kept = parts.storage().state()
    status = "ok" if not store.error else "serving last good flow"
    if kept["state"] == "down":
        status += "; the store is down: calls are answered, nothing is stored"
    body = {
        "status": status,
        "flow": {"path": flow.path, "version": flow.version, "name": flow.name,
                 "loaded_at": datetime.fromtimestamp(flow.loaded_at, timezone.utc).isoformat(),
                 "menus": len(flow.menus), "languages": list(flow.languages)},
        "reload_error": store.error or None,
        "store": kept,
        "worker": os.getpid(),
    }
    return jsonify(body), 200
