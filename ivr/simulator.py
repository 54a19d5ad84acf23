"""The browser phone for staff: a page, and a JSON API that plays the line's own TwiML.

Every step runs ivr.phone.Phone over the app's real Twilio routes, in process and signed as
Twilio signs, so the page can never differ from what a caller hears. The call's position
travels in the JSON the browser sends back (any worker can take the next step); it is
checked on the way in and trusted for nothing but the simulation. Simulated calls write to a
scratch store in memory, so they never show up as calls, statistics or callback requests.
"""
from __future__ import annotations

import contextvars
import functools
import re
from datetime import datetime, time, timedelta, timezone

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from ivr import call, db, parts
from ivr.config import LineError, SettingsError, fixed_now
from ivr.flow import KEYS, Flow
from ivr.graph import mermaid, node_id
from ivr.hours import is_open
from ivr.phone import CallDropped, Heard, Phone, PositionError, client_post
from ivr.phone.transcript import BROWSER, Transcript, state_of
from ivr.security import staff_headers, staff_refusal

bp = Blueprint("simulator", __name__, url_prefix="/simulator")
bp.before_request(staff_refusal)  # the page and its API: staff only (see security.staff_refusal)
bp.after_request(staff_headers)

MAX_WORDS = 200
# What each action needs the call to be waiting for (None: a new call).
NEEDS = {"call": None, "press": ("gather",), "say": ("gather",), "silence": ("gather", "record"),
         "answer": ("dial",), "no_answer": ("dial",), "message": ("record",),
         "hang_up": ("gather", "dial", "record")}
CALLER = "+15550100000"  # fictional: simulated calls come from no real phone
PLACES = {call.VOICEMAIL_NODE: "the voicemail notice", call.SAVED_NODE: "after the message"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class SimulatorError(LineError):
    """A request the browser phone cannot act on; the message says what to do."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class _NoEvents:
    """An event sink that keeps nothing."""

    def add(self, **event) -> None:
        """Drop the event: simulated calls are not statistics."""

    def note(self, fact: str, call_sid: str, **values) -> None:
        """Drop the call record too."""


class ScratchStore(db.Storage):
    """A store in memory for one step: screened answers work as in production, nothing is kept."""

    def __init__(self):
        super().__init__("sqlite://")
        self._engine = create_engine("sqlite://", poolclass=StaticPool,
                                     connect_args={"check_same_thread": False})
        db.metadata.create_all(self._engine)
        self._sink = _NoEvents()

    def close(self) -> None:
        """Free the memory database."""
        self._engine.dispose()


# -- the page --------------------------------------------------------------------------------

@bp.get("")
def page():
    """The browser phone."""
    flow = _flow()
    languages = [{"code": code, "label": lang.own_name, "speech": lang.speech}
                 for code, lang in flow.languages.items()]
    config = {"api": "/simulator/api/step", "graph": mermaid(flow), "languages": languages,
              "start": node_id(flow.start), "counselor_key": flow.counselor_key}
    html = render_template("simulator.html", name=flow.name, config=config, languages=languages,
                           keys=["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"],
                           has_hours=flow.hours is not None)
    return Response(html, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})


# -- the API ---------------------------------------------------------------------------------

@bp.post("/api/step")
def step():
    """Take one step of a simulated call and say what the caller heard."""
    try:
        body = _body()
        flow = _flow()
        return jsonify(_run(flow, body))
    except SimulatorError as exc:
        return jsonify(error=str(exc)), exc.status


def _body() -> dict:
    """The JSON the page sent (JSON only, so no other site's form can post here)."""
    if request.content_length and request.content_length > current_app.config["MAX_CONTENT_LENGTH"]:
        raise SimulatorError("That request is too large for the browser phone.", 413)
    if not request.is_json:
        raise SimulatorError("Send the step as JSON (Content-Type: application/json).", 415)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise SimulatorError("Send the step as a JSON object, like {\"do\": \"call\"}.")
    return body


def _run(flow: Flow, body: dict) -> dict:
    """Start or resume the call, act, and describe what happened."""
    action = str(body.get("do", ""))
    if action not in NEEDS:
        raise SimulatorError(f"'{action[:40]}' is not something the browser phone does; use one of "
                             f"{', '.join(NEEDS)}.")
    store = ScratchStore()
    try:
        if action == "call":
            at, when = _moment(flow, str(body.get("when", "now")), str(body.get("at", "")))
            lang = str(body.get("lang", "")) if body.get("lang") in flow.languages else flow.default_language
            phone = _phone(store, at, voice_path="/voice" + ("" if lang == flow.default_language else f"?l={lang}"))
        else:
            held = body.get("call") if isinstance(body.get("call"), dict) else {}
            at, moment = _held_time(held.get("at"))
            when = _describe(flow, moment or _clock())
            phone = _resume(store, at, held.get("phone"))
        start, transcript = len(phone.heard), Transcript(flow, BROWSER)
        you, error = _act(phone, action, body, transcript), None
        try:
            _drive(phone, action, body)
        except CallDropped as exc:
            phone.waiting, error = None, str(exc)
        lines = [you] + _lines(transcript, phone, phone.heard[start:])
        if error:
            lines.append({"kind": "error", "text": f"The line failed: {error}. Twilio would play "
                          "its application error and the caller would go to the fallback."})
        lines += _waiting(flow, phone)
        return {"lines": lines, "waiting": phone.waiting, "when": when, "where": _where(flow, phone),
                "call": {"phone": phone.position(), "at": at} if phone.waiting else None}
    finally:
        store.close()


def _phone(store: ScratchStore, at: str | None, **kwargs) -> Phone:
    """A new phone calling this line in process, as Twilio would, at the chosen time."""
    phone = Phone(_post(store, at), **_where_to_call(), caller=CALLER, **kwargs)
    own = current_app.config.get("TWILIO_ACCOUNT_SID")
    if own and re.fullmatch(r"AC[0-9a-f]{32}", own):
        phone.account = own  # the line takes requests for its own account only
    return phone


def _resume(store: ScratchStore, at: str | None, position) -> Phone:
    """The phone a browser handed back, checked."""
    try:
        return Phone.resume(_post(store, at), position, **_where_to_call(), caller=CALLER)
    except PositionError as exc:
        raise SimulatorError(f"That call cannot go on ({exc}); place a new call.") from None


def _where_to_call() -> dict:
    """The base URL Twilio signs against, and the token it signs with."""
    config = current_app.config
    return {"base": config["IVR_PUBLIC_URL"] or request.host_url,
            "auth_token": config["TWILIO_AUTH_TOKEN"]}


def _post(store: ScratchStore, at: str | None):
    """Posts into the app's own routes, with the chosen time and the scratch store."""
    environ = {"ivr.storage": store, "ivr.practice": True}  # kept nowhere, counted nowhere
    if at:
        environ["ivr.now"] = at
    post = functools.partial(client_post(current_app.test_client()), environ=environ)
    # Each post in a context of its own: Flask would otherwise reuse this request's app context,
    # and its `g` (the step, the call's state) would pass between the practice call's requests
    # and back into this one, where the metrics would count a practice step as a real one.
    return lambda *args, **kwargs: contextvars.Context().run(post, *args, **kwargs)


def _act(phone: Phone, action: str, body: dict, transcript: Transcript) -> dict:
    """Check the action fits what the call waits for; return the caller's own line."""
    need = NEEDS[action]
    if need and phone.waiting not in need:
        now = phone.waiting or "nothing: the call has ended"
        raise SimulatorError(f"The call is waiting for {now}, so '{action}' does not fit. "
                             "Place a new call if it has ended.", 409)
    keys = str(body.get("keys", ""))
    if action == "press" and (len(keys) != 1 or keys not in KEYS):
        raise SimulatorError("Press one phone key: 0-9, * or #.")
    # Said once here, and _drive says the same words.
    words = body["words"] = " ".join(str(body.get("words", "")).split())[:MAX_WORDS]
    if action == "say" and not words:
        raise SimulatorError("Type what the caller says first.")
    return {"kind": "you", "text": transcript.did(action, keys=keys, words=words)}


def _drive(phone: Phone, action: str, body: dict) -> None:
    """Do the action on the phone."""
    if action == "call":
        phone.dial_in()
    elif action == "press":
        phone.press(str(body["keys"]))
    elif action == "say":
        phone.say(body["words"])
    elif action == "silence":
        phone.stay_silent() if phone.waiting == "gather" else phone.record_nothing()
    elif action == "answer":
        phone.ring_ends("completed", counselor_keys="1")
    elif action == "no_answer":
        phone.ring_ends("no-answer")
    elif action == "message":
        phone.leave_message(15)
    elif action == "hang_up":
        phone.hang_up()


# -- the time the call is placed at ---------------------------------------------------------

def _clock() -> datetime:
    """The line's own idea of now: IVR_NOW when set, else the clock."""
    fixed = current_app.config["IVR_NOW"]
    return fixed_now(fixed) if fixed else datetime.now(timezone.utc)


def _held_time(at) -> tuple[str | None, datetime | None]:
    """The call's chosen time as handed back, checked: as text and as a time (None, None: now)."""
    if at in (None, ""):
        return None, None
    try:
        return str(at), _in_range(fixed_now(str(at)))
    except (SettingsError, SimulatorError):
        raise SimulatorError("That call's time is not a time; place a new call.") from None


def _moment(flow: Flow, choice: str, custom: str) -> tuple[str | None, str]:
    """Resolve the time picker: now, after hours, a holiday or a date and time."""
    base = _clock()
    if choice == "now":
        return None, _describe(flow, base)
    zone = flow.hours.tz if flow.hours else timezone.utc
    if choice == "at":
        try:
            when = datetime.fromisoformat(custom)
        except ValueError:
            raise SimulatorError("Pick a date and time for the call, like 2026-12-24T21:00.") from None
        when = _in_range(when if when.tzinfo else when.replace(tzinfo=zone))
    elif choice in ("after_hours", "holiday"):
        if flow.hours is None:
            raise SimulatorError("call_flows.yaml sets no hours, so the desk is never closed; "
                                 "add an 'hours:' section to try after hours.")
        when = _after_hours(flow, base) if choice == "after_hours" else _holiday(flow, base)
    else:
        raise SimulatorError(f"'{choice}' is not a time choice; use now, after_hours, holiday or at.")
    return when.isoformat(), _describe(flow, when)


YEARS = range(1970, 3000)  # near year 1 or 9999, a time zone's offset runs off the calendar


def _in_range(when: datetime) -> datetime:
    """A chosen time the line can place a call at (years 1970-2999)."""
    if when.year not in YEARS:
        raise SimulatorError(f"Pick a year from {YEARS.start} to {YEARS.stop - 1}; {when.year} is off the "
                             "line's calendar.")
    return when


def _after_hours(flow: Flow, base: datetime) -> datetime:
    """The next whole hour, within a week, when the desk is closed on an ordinary day."""
    zone = flow.hours.tz
    moment = base.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    for _ in range(24 * 8):
        moment += timedelta(hours=1)
        if not is_open(flow.hours, moment) and moment.date() not in flow.hours.closed_on:
            return moment
    raise SimulatorError("The desk is open around the clock, so there is no after-hours time to try.")


def _holiday(flow: Flow, base: datetime) -> datetime:
    """10 in the morning on the next closed date (or the last one, when all have passed)."""
    zone = flow.hours.tz
    days = sorted(flow.hours.closed_on)
    if not days:
        raise SimulatorError("call_flows.yaml lists no holidays; add dates under hours: closed_on.")
    today = base.astimezone(zone).date()
    day = next((d for d in days if d >= today), days[-1])
    return datetime.combine(day, time(10, 0), zone)


def _describe(flow: Flow, when: datetime) -> str:
    """The time in the desk's zone, and whether the desk is open then."""
    if flow.hours is None:
        return f"{when:%A %d %B %Y, %H:%M} (no hours set: the desk is always open)"
    local = when.astimezone(flow.hours.tz)
    state = "after hours: the desk is closed" if call.is_after_hours(flow, when) else "the desk is open"
    return f"{local:%A %d %B %Y, %H:%M} {flow.hours.timezone}; {state}"


# -- describing what happened ----------------------------------------------------------------

def _lines(transcript: Transcript, phone: Phone, heard: list[Heard]) -> list[dict]:
    """Each thing the caller (or the counselor) heard, with where it came from."""
    last_doc = phone.url
    here = state_of(_pending_url(phone)) if phone.waiting else {}
    out = []
    for line in transcript.lines(heard):
        state = here if line.doc == last_doc and here else state_of(line.doc)
        spoken = {"lang": line.lang, "prompt": transcript.prompt(line.text)} if line.kind in ("say", "whisper") else {}
        out.append({"kind": line.kind, "text": line.text, **spoken, **_place(transcript.flow, state)})
    return out


def _waiting(flow: Flow, phone: Phone) -> list[dict]:
    """What the line is waiting for now, as a transcript line."""
    if phone.waiting != "gather":
        return []
    pending = phone.pending
    words = "a key or words" if pending.get("input") == "dtmf speech" else "a key"
    seconds = pending.get("timeout", "")
    where = _place(flow, state_of(_pending_url(phone)))
    return [{"kind": "wait", "text": f"Waiting for {words}"
             + (f" ({seconds} seconds, then it goes on as if you stayed silent)." if seconds.isdigit() else "."),
             **where}]


def _where(flow: Flow, phone: Phone) -> dict:
    """Where the call is now: a menu, a ring group, voicemail, or ended; and its diagram node."""
    if not phone.waiting:
        return {"node": None, "graph": None, "label": "The call has ended."}
    state = state_of(_pending_url(phone))
    if phone.waiting == "dial":
        group = state.get("g", "")
        graph = node_id("g_" + group) if group in flow.groups else \
            "crisis_line" if group == call.CRISIS_GROUP else "counselor"
        return {"node": state.get("n"), "graph": graph,
                "label": "Ringing the crisis line." if group == call.CRISIS_GROUP else f"Ringing counselor {group}."}
    if phone.waiting == "record":
        return {"node": state.get("n"), "graph": "voicemail", "label": "Voicemail: recording a message."}
    if state.get("n") in PLACES:
        return {"node": state["n"], "graph": "voicemail", "label": f"Voicemail: {PLACES[state['n']]}."}
    place = _place(flow, state)
    return {"node": place["menu"], "graph": node_id(place["menu"]) if place["menu"] else None,
            "label": f"In the menu '{place['menu']}' ({place['menu_title']})."}


def _pending_url(phone: Phone) -> str:
    """The URL the waiting verb answers to: its action."""
    return phone.pending.get("action", "") if phone.pending is not None else ""


def _place(flow: Flow, state: dict) -> dict:
    """Name the menu a state is at, with its title."""
    node = state.get("n") or flow.start
    if node in PLACES:
        return {"menu": node, "menu_title": PLACES[node]}
    if node in flow.menus:
        return {"menu": node, "menu_title": flow.menus[node].title}
    return {"menu": flow.start, "menu_title": flow.menus[flow.start].title}


def _flow() -> Flow:
    """The flow being served."""
    return parts.flow()
