"""What the line does next: given where a call is and what the caller did, the next step.

Pure: no Flask, no Twilio. A call's state travels in the URLs of the TwiML we send, so
any worker or replica can serve any step; nothing per call lives in memory here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime

from ivr.flow import COUNSELOR, KEYS, REPEAT, VOICEMAIL, Flow
from ivr.hours import describe_opening, is_open, next_opening
from ivr.outcome import Outcome
from ivr.speech import has as _has
from ivr.speech import heard, plain

# Steps that are not menus of the flow but places a call can be.
VOICEMAIL_NODE, SAVED_NODE, UNSAVED_NODE = "_voicemail", "_saved", "_unsaved"
# While the crisis guidance is said before a ring: any key or word cuts it short and rings.
CRISIS_NODE, LIFELINE_NODE = "_crisis", "_lifeline"
PLACES = (VOICEMAIL_NODE, SAVED_NODE, UNSAVED_NODE, CRISIS_NODE, LIFELINE_NODE)
CRISIS = "crisis"  # what crisis speech means, wherever it is heard
CRISIS_GROUP = "_crisis_line"  # the ring of the flow's crisis line
CRISIS_RING_SECONDS = 30
GUIDANCE_KEY = "9"  # in the voicemail notice and after a message: back to the guidance
PATH_LENGTH = 8  # how many recent menus a call remembers, for callbacks and statistics
MAX_SPEECH = 200
SID = re.compile(r"[A-Za-z0-9]{1,64}")
COUNT = re.compile(r"[0-9]{1,7}")
PHONE = re.compile(r"\+?[0-9]{2,20}|[A-Za-z][A-Za-z0-9:_.@-]{0,31}")  # a number, or anonymous, client:name
SPOKEN_KEYS = {
    "0": ("zero", "cero"), "1": ("one", "uno"), "2": ("two", "dos"), "3": ("three", "tres"),
    "4": ("four", "cuatro"), "5": ("five", "cinco"), "6": ("six", "seis"), "7": ("seven", "siete"),
    "8": ("eight", "ocho"), "9": ("nine", "nueve"),
}
# A screened leg that lasted this long was a conversation: a whisper (at most ~10 s of
# speech plus its 8 s wait) that ends in a decline is always shorter.
TALK_SECONDS = 45
DIAL_STATUSES = ("completed", "answered", "busy", "no-answer", "failed", "canceled")
# When anything fails mid-call (Twilio's fallback URL): the apology, then a ring of everyone.
FALLBACK_TEXT = "We are sorry, something went wrong, so we are connecting you to a counselor now."
FALLBACK_RING_SECONDS = 25
AT_ONCE = 10  # Twilio rings at most this many numbers at once


@dataclass(frozen=True)
class CallState:
    """Where a call is: the menu, the language, failed tries, and the recent path."""

    node: str
    lang: str
    tries: int = 0
    path: tuple = ()
    crisis: bool = False  # crisis words were heard: never voicemail, the crisis line instead
    saved: bool = False  # a message of this call is saved: no second voicemail

    def params(self) -> dict:
        """The state as short URL parameters."""
        out = {"n": self.node, "l": self.lang}
        if self.tries:
            out["t"] = str(self.tries)
        if self.path:
            out["p"] = ".".join(self.path)
        if self.crisis:
            out["x"] = "1"
        if self.saved:
            out["m"] = "1"
        return out

    def at(self, node: str) -> "CallState":
        """The state after moving to another menu: tries reset, path extended."""
        path = (self.path + (node,))[-PATH_LENGTH:] if node != self.node or not self.path else self.path
        return replace(self, node=node, tries=0, path=path)


@dataclass(frozen=True)
class Speech:
    """One prompt spoken to the caller (or played, when a recording exists)."""

    prompt: str
    text: str
    lang: str
    audio: str | None = None


@dataclass(frozen=True)
class Ask:
    """Speak, then wait for a key or a word; silence falls through to `then`."""

    route: str
    params: dict
    speech: tuple
    lang: str
    hints: tuple = ()
    timeout: int = 6
    speech_input: bool = True
    then: object = None  # None: go to the route's silence handler


@dataclass(frozen=True)
class Ring:
    """Ring a counselor group (or one number of it), screening each answer if asked.

    Which group it is travels in `params` (g=), to the Dial's action.
    """

    numbers: tuple
    seconds: int
    params: dict
    screen: bool = False  # unscreened: whoever answers is put through (the crisis line, the fallback)
    whisper_params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Record:
    """Record a message, with where to go when it is done."""

    params: dict
    seconds: int


@dataclass(frozen=True)
class Hangup:
    """End the call (only when the caller or a counselor is done)."""


@dataclass(frozen=True)
class Reply:
    """What the line says (where no key can interrupt), then what it does."""

    then: object
    speech: tuple = ()
    outcome: Outcome = Outcome("")
    node: str = ""
    effects: dict = field(default_factory=dict)

    def __post_init__(self):
        # Every reply's outcome is an Outcome, however the step wrote it ("greeted" or Outcome.TALKED).
        object.__setattr__(self, "outcome", Outcome(self.outcome))


# -- reading what came in ------------------------------------------------------------------

def read_state(flow: Flow, params) -> CallState:
    """Read a call's state from URL parameters, replacing anything unknown with safe values."""
    node = str(params.get("n", ""))
    if node not in flow.menus and node not in PLACES:
        node = flow.start
    lang = str(params.get("l", ""))
    if lang not in flow.languages:
        lang = flow.default_language
    tries = min(clean_count(params.get("t"), 99) or 0, flow.tries)
    # The last PATH_LENGTH names, whatever their length (the line writes no more than those).
    path = tuple(p for p in str(params.get("p", "")).rsplit(".", PATH_LENGTH)[-PATH_LENGTH:] if p in flow.menus)
    return CallState(node, lang, tries, path, params.get("x") == "1", params.get("m") == "1")


def clean_digits(value) -> str | None:
    """The one phone key pressed, else None: every menu and the counselor's whisper take one key."""
    value = str(value or "")
    return value if len(value) == 1 and value in KEYS else None


def clean_count(value, most: int) -> int | None:
    """Return a count written in ASCII digits, at most `most`, else None."""
    value = str(value or "")
    if not COUNT.fullmatch(value) or int(value) > most:
        return None
    return int(value)


def clean_sid(value) -> str:
    """Return a Twilio id (CallSid and the like) if it looks like one, else ''."""
    value = str(value or "")
    return value if SID.fullmatch(value) else ""


def is_after_hours(flow: Flow, now: datetime) -> bool:
    """Whether the counselor desk is closed at this moment."""
    return flow.hours is not None and not is_open(flow.hours, now)


# -- the steps -----------------------------------------------------------------------------

def greet(flow: Flow, now: datetime, lang: str | None = None) -> Reply:
    """The start of a call: welcome, language offers, hours, safety and the main menu."""
    state = CallState(flow.start, lang or flow.default_language, 0, (flow.start,))
    return _menu(flow, state, now, full=True, outcome="greeted")


def answer(flow: Flow, state: CallState, digits, speech, now: datetime) -> Reply:
    """Act on a key or words the caller gave at a menu."""
    if state.node in (CRISIS_NODE, LIFELINE_NODE):
        return _ring_now(flow, state, now)
    key = _understand(flow, state, clean_digits(digits), str(speech or "")[:MAX_SPEECH])
    if key == CRISIS:
        return crisis(flow, state, now)
    if state.node == VOICEMAIL_NODE:
        return _voicemail_choice(flow, state, key, now)
    if key == flow.counselor_key or key == COUNSELOR:
        return transfer(flow, state, now, "asked")
    if state.node in (SAVED_NODE, UNSAVED_NODE):
        if key == GUIDANCE_KEY:
            return _guidance(flow, state)
        if key == flow.repeat_key:
            return _after_message(flow, replace(state, tries=0), Outcome.REPEATED)
        return _failed(flow, state, now, "wrong_key")
    if key == flow.repeat_key:
        return _menu(flow, replace(state, tries=0), now, full=True, outcome=Outcome.REPEATED)
    if key in _language_keys(flow, state):
        new = replace(state, node=flow.start, lang=_language_keys(flow, state)[key], tries=0)
        return _menu(flow, new, now, full=True, outcome="language")
    target = flow.menus[state.node].options.get(key) if key else None
    if target == COUNSELOR:
        return transfer(flow, state, now, "asked")
    if target == VOICEMAIL:
        return voicemail(flow, state)
    if target == REPEAT:
        return _menu(flow, replace(state, tries=0), now, full=True, outcome=Outcome.REPEATED)
    if target == flow.start and state.node != flow.start:
        return _guidance(flow, state)  # 9: the main menu's choices, not the whole greeting
    if target in flow.menus:
        return _menu(flow, state.at(target), now, full=True, outcome=Outcome.CHOSE)
    return _failed(flow, state, now, "wrong_key")


def silence(flow: Flow, state: CallState, now: datetime) -> Reply:
    """The caller said and pressed nothing: apologise and ask again, or put them through."""
    if state.node == VOICEMAIL_NODE:  # the notice ended without a key: record
        return Reply(Record(state.params(), flow.record_seconds), outcome=Outcome.RECORDING, node=state.node)
    if state.node == SAVED_NODE:  # they chose to end the call by leaving a message
        # The goodbye in a Gather: 0 or 9 still work while it is said.
        ask = Ask("answer", state.params(), (_say(flow, state.lang, "goodbye"),), state.lang,
                  _hints(flow, state), timeout=1, then=Hangup())
        return Reply(ask, outcome="goodbye", node=state.node)
    if state.node == UNSAVED_NODE:  # nothing saved: a person is the only promise left
        return transfer(flow, state, now, "again")
    if state.node in (CRISIS_NODE, LIFELINE_NODE):  # the guidance falls through to its ring
        return _ring_now(flow, state, now)
    return _failed(flow, state, now, "no_input")


def transfer(flow: Flow, state: CallState, now: datetime, reason: str, lead: tuple = ()) -> Reply:
    """Put the caller through to the counselor group that takes calls now."""
    group = flow.group_for(is_after_hours(flow, now), state.lang)
    speech = lead + (_say(flow, state.lang, "put_through" if reason == "tries" else "connecting"),)
    return Reply(_ring(flow, state, group, 0), speech, outcome=Outcome.transfer(reason), node=state.node)


def crisis(flow: Flow, state: CallState, now: datetime) -> Reply:
    """Crisis words: what to do right now (911, 988), then a counselor at once, no menu between."""
    # No tries kept: from here the call only rings, never a menu to get wrong again.
    state = replace(state, crisis=True)
    ring = _ring(flow, state, flow.group_for(is_after_hours(flow, now), state.lang), 0)
    return _guide_then_ring(flow, state, CRISIS_NODE, "crisis_now", ring, Outcome.transfer(CRISIS))


def _guide_then_ring(flow: Flow, state: CallState, place: str, prompt: str, ring: Ring, outcome: str) -> Reply:
    """Say what to do now inside a Gather (any key or word cuts it short), then ring: silence
    falls through to the Dial, with no menu in between."""
    ask = Ask("answer", replace(state, node=place).params(), (_say(flow, state.lang, prompt),), state.lang,
              timeout=1, then=ring)
    return Reply(ask, outcome=outcome, node=state.node)


def _ring_now(flow: Flow, state: CallState, now: datetime) -> Reply:
    """A key or word during the crisis guidance: ring at once (the counselors, or the crisis line)."""
    back = replace(state, node=state.path[-1] if state.path else flow.start)
    if state.node == LIFELINE_NODE:
        return Reply(_lifeline(flow, back), outcome=Outcome.RANG, node=back.node)
    ring = _ring(flow, back, flow.group_for(is_after_hours(flow, now), state.lang), 0)
    return Reply(ring, outcome=Outcome.RANG, node=back.node)


def dialed(flow: Flow, state: CallState, group: str, index: int, status: str,
           accepted: bool | None, now: datetime, seconds: int) -> Reply:
    """After a ring: end politely if a counselor took the call, else lead on.

    With screening, `completed` alone may be a declined whisper or a phone's voicemail, so
    only a counselor's 1 counts; `accepted` is None when the store could not tell, and
    then only a leg longer than any whisper counts as a talk.
    """
    talked = status in ("completed", "answered")
    if group == CRISIS_GROUP:
        if talked:  # the crisis line took the call
            return Reply(Hangup(), (_say(flow, state.lang, "goodbye"),), outcome=Outcome.TALKED, node=state.node)
        # Nobody there either: the guidance again, and the counselors again; never voicemail.
        return transfer(flow, state, now, "again", lead=(_say(flow, state.lang, "safety_short"),))
    if group not in flow.groups:
        return transfer(flow, state, now, "again")
    ring = flow.groups[group]
    # A leg longer than any whisper was a conversation, whatever the store says (it may have
    # missed the counselor's 1: a hiccup, another replica).
    accepted = bool(accepted) or seconds >= TALK_SECONDS
    if talked and (accepted or not ring.screen):
        return Reply(Hangup(), (_say(flow, state.lang, "goodbye"),), outcome=Outcome.TALKED, node=state.node)
    if ring.order == "in_turn" and index + 1 < len(ring.numbers):
        return Reply(_ring(flow, state, group, index + 1), outcome=Outcome.ring(status), node=state.node)
    if ring.then in flow.groups:
        speech = (_say(flow, state.lang, "still_trying"),)
        return Reply(_ring(flow, state, ring.then, 0), speech, outcome=Outcome.ring(status), node=state.node)
    return voicemail(flow, state, busy=True)


def voicemail(flow: Flow, state: CallState, busy: bool = False, lead: tuple = (),
              again: bool = False) -> Reply:
    """Tell the caller the message is recorded; a key skips to a counselor instead.

    A crisis caller never reaches it (the crisis line instead), and a caller whose message
    is saved is not asked for another.
    """
    if state.crisis:
        return _crisis_line(flow, state)
    busy_words = (_say(flow, state.lang, "counselors_busy"),) if busy else ()
    if state.saved:
        return _after_message(flow, replace(state, node=SAVED_NODE, tries=0), Outcome.VOICEMAIL,
                              lead=busy_words)
    vm = replace(state, node=VOICEMAIL_NODE, tries=1 if again else 0)
    notice = (_say(flow, state.lang, "safety_short"), _say(flow, state.lang, "voicemail_intro"))
    ask = Ask("answer", vm.params(), lead + notice, state.lang, hints=_hints(flow, vm), timeout=2,
              then=Record(vm.params(), flow.record_seconds))
    return Reply(ask, busy_words, outcome=Outcome.VOICEMAIL, node=VOICEMAIL_NODE)


def recorded(flow: Flow, state: CallState, has_message: bool, stored: bool) -> Reply:
    """After a recording: say it is saved only when it is; no sound is no message."""
    if not has_message:
        if state.node == VOICEMAIL_NODE and not state.tries:  # the notice once more
            return voicemail(flow, state, lead=(_say(flow, state.lang, "no_message"),), again=True)
        return _guidance(flow, state, lead=(_say(flow, state.lang, "no_message"),))
    if not stored:
        return _after_message(flow, replace(state, node=UNSAVED_NODE, tries=0), "not_saved")
    return _after_message(flow, replace(state, node=SAVED_NODE, tries=0, saved=True), "message")


def _after_message(flow: Flow, state: CallState, outcome: str, lead: tuple = ()) -> Reply:
    """After a message: saved (you may hang up now) or not (a counselor again); 9 and 0 work."""
    said = "not_saved" if state.node == UNSAVED_NODE else "message_saved"
    speech = lead + (_say(flow, state.lang, said), _say(flow, state.lang, "safety_short"))
    ask = Ask("answer", state.params(), speech, state.lang, _hints(flow, state), flow.wait_seconds)
    return Reply(ask, outcome=outcome, node=state.node)


def _crisis_line(flow: Flow, state: CallState) -> Reply:
    """No counselor took a crisis caller: say so, then ring the crisis line."""
    return _guide_then_ring(flow, state, LIFELINE_NODE, "crisis_line", _lifeline(flow, state), Outcome.CRISIS_LINE)


def _lifeline(flow: Flow, state: CallState) -> Ring:
    """The ring of the flow's crisis line: unscreened, the longest ring Twilio allows."""
    return Ring((flow.crisis_line,), CRISIS_RING_SECONDS,
                {**state.params(), "g": CRISIS_GROUP})  # one number: no i= to ring in turn


def _guidance(flow: Flow, state: CallState, lead: tuple = ()) -> Reply:
    """The main menu's choices (not the whole greeting): 9 from a topic, a message or the notice."""
    return _menu(flow, state.at(flow.start), None, full=False, outcome=Outcome.CHOSE, lead=lead)


def whisper(flow: Flow, params) -> Reply:
    """What the counselor who answers hears: crisis or not, the line, the topic, the caller's language, press 1.

    Said in the caller's language, then in the line's first language when that is another,
    so the counselor who can help the caller understands it either way.
    """
    first = flow.default_language
    caller = str(params.get("l", ""))
    caller = caller if caller in flow.languages else first
    node = str(params.get("n", ""))
    speech = tuple(_whisper_text(flow, lang, node, caller, params.get("x") == "1")
                   for lang in dict.fromkeys((caller, first)))
    ask = Ask("screened", {"n": node} if node in flow.menus else {}, speech, first, timeout=8,
              speech_input=False, then=Hangup())
    return Reply(ask, outcome="whisper")


# "about" in each language Twilio speaks for us (ivr.voices.LANGUAGES), by the speech tag's first
# part: a flow may name its languages as it likes ("mx" speaking es-MX hears "sobre").
TOPIC_WORD = {"en": "about", "es": "sobre"}


def _whisper_text(flow: Flow, lang: str, node: str, caller: str, is_crisis: bool) -> Speech:
    """The whisper in one language."""
    about = TOPIC_WORD[flow.languages[lang].speech.split("-")[0]]
    topic = f", {about} {flow.menus[node].title}" if node in flow.menus and node != flow.start else ""
    named = caller != flow.default_language and lang == flow.default_language  # said once, in the first
    language = f", in {flow.language_name(caller)}" if named else ""
    text = (flow.text(lang, flow.messages["whisper"]).replace("{line}", flow.name).replace("{topic}", topic)
            .replace("{language}", language))
    if is_crisis:
        text = f"{flow.text(lang, flow.messages['crisis_whisper'])} {text}"
    return Speech("whisper", text, lang)


def screened(digits) -> Reply:
    """The counselor's key after the whisper: 1 connects, anything else declines."""
    if clean_digits(digits) == "1":
        return Reply(None, outcome=Outcome.ACCEPTED)
    return Reply(Hangup(), outcome="declined")


def fallback(flow: Flow, now: datetime, lang: str | None, crisis: bool) -> Reply:
    """Something failed mid-call: sorry, in the caller's language, then every counselor of the chain at once.

    Spoken, never a recording: a prompt file may be what failed. `lang` and `crisis` are
    carried on to the fallback's next step, as the failed call had them.
    """
    code = lang or flow.default_language
    name = flow.messages["fallback_sorry"]
    sorry = Speech(name, flow.text(code, name) or FALLBACK_TEXT, code)
    held = {**({"l": lang} if lang else {}), **({"x": "1"} if crisis else {})}
    ring = Ring(_everyone(flow, code, now), FALLBACK_RING_SECONDS, {"step": "after", **held})
    return Reply(ring, (sorry,))


def _everyone(flow: Flow, lang: str, now: datetime) -> tuple:
    """The numbers of the group that takes calls now and of every group it leads on to, at most AT_ONCE."""
    try:
        group = flow.groups[flow.group_for(is_after_hours(flow, now), lang)]
    except Exception:  # whatever is strange about the flow, its first group still rings
        group = next(iter(flow.groups.values()))
    numbers, seen = [], group
    while seen is not None and len(numbers) < AT_ONCE:  # ring the whole chain at once
        numbers += [n for n in seen.numbers if n not in numbers]
        seen = flow.groups.get(seen.then)
    return tuple(numbers[:AT_ONCE])


# -- helpers -------------------------------------------------------------------------------

def _menu(flow: Flow, state: CallState, now: datetime | None, full: bool, outcome: str,
          lead: tuple = ()) -> Reply:
    """Speak a menu inside a Gather: its explanation (with the hours, at `now`) when `full`, then its choices."""
    menu = flow.menus[state.node]
    speech = list(lead)
    if full:
        intro = [_say(flow, state.lang, p) for p in menu.intro]
        if state.node == flow.start:
            # Other languages right after the welcome; the hours after the safety notice,
            # so the notice is heard within the first twenty seconds, after hours too.
            intro[1:1] = _language_offers(flow, state)
            intro += _hours_notice(flow, state, now)
        speech += intro
    speech += [_say(flow, state.lang, p) for p in menu.say]
    ask = Ask("answer", state.params(), tuple(speech), state.lang, _hints(flow, state),
              flow.wait_seconds)
    return Reply(ask, outcome=outcome, node=state.node)


def _language_offers(flow: Flow, state: CallState) -> list:
    """The greeting's offers of other languages, each in its own language."""
    return [_say(flow, code, "language_offer") for code, lang in flow.languages.items()
            if code != state.lang and lang.key and (code, "language_offer") in flow.prompts]


OPENS_SENTENCE = re.compile(r"\s*[^.!?]*\{opens\}[^.!?]*[.!?]?")  # the sentence saying when the desk opens


def _hours_notice(flow: Flow, state: CallState, now: datetime) -> list:
    """After hours: when the desk opens, what 0 does, and when messages are returned."""
    if not is_after_hours(flow, now):
        return []
    opens = next_opening(flow.hours, now)
    name = flow.messages["after_hours"]
    text = flow.text(state.lang, name)
    if opens is None:  # never open in the next two weeks: no "It opens again ." with nothing said
        return [Speech(name, OPENS_SENTENCE.sub("", text).strip(), state.lang)]
    speech = flow.languages[state.lang].speech  # the phrase's language, whatever the flow calls it
    when = describe_opening(opens, now, speech, *flow.calendar_names(state.lang))
    return [Speech(name, text.replace("{opens}", when), state.lang)]


def _failed(flow: Flow, state: CallState, now: datetime, why: str) -> Reply:
    """A wrong key or silence: apologise and ask again, or after enough tries put through."""
    tries = state.tries + 1
    if tries >= flow.tries:
        return transfer(flow, state, now, "tries")  # where the call next waits for a key, it counts afresh
    again = replace(state, tries=tries)
    lead = (_say(flow, state.lang, why),)
    if state.node in (SAVED_NODE, UNSAVED_NODE):
        return _after_message(flow, again, why, lead)
    return _menu(flow, again, now, full=False, outcome=why, lead=lead)


def _voicemail_choice(flow: Flow, state: CallState, key, now: datetime) -> Reply:
    """A key during the voicemail notice: 0 a counselor, 9 the guidance, else record."""
    if key in (flow.counselor_key, COUNSELOR):
        return transfer(flow, state, now, "asked")
    if key == GUIDANCE_KEY:
        return _guidance(flow, state)
    return Reply(Record(state.params(), flow.record_seconds), outcome=Outcome.RECORDING, node=state.node)


def _ring(flow: Flow, state: CallState, group: str, index: int) -> Ring:
    """Build the ring of a group, or of its next number when it rings in turn."""
    ring = flow.groups[group]
    numbers = ring.numbers if ring.order == "together" else ring.numbers[index:index + 1]
    params = {**state.params(), "g": group, "i": str(index)}
    # The whisper names the caller's language when it is not the line's first one, so a
    # counselor who does not speak it knows before pressing 1; and says when it is a crisis.
    told = {"n": state.node, **({"l": state.lang} if state.lang != flow.default_language else {}),
            **({"x": "1"} if state.crisis else {})}
    return Ring(numbers, ring.seconds, params, ring.screen, told)


def _say(flow: Flow, lang: str, prompt: str) -> Speech:
    """A prompt in a language, as text and, when recorded, audio."""
    name = flow.messages.get(prompt, prompt)
    return Speech(name, flow.text(lang, name), lang, flow.audio.get((lang, name)))


def _language_keys(flow: Flow, state: CallState) -> dict:
    """Keys that switch language, offered only in the start menu."""
    if state.node != flow.start:
        return {}
    return {lang.key: code for code, lang in flow.languages.items() if lang.key and code != state.lang}


def _hints(flow: Flow, state: CallState) -> tuple:
    """Words the speech recogniser should expect at this step."""
    lang = flow.languages[state.lang]
    words = list(lang.counselor_words) + list(lang.repeat_words)
    menu = flow.menus.get(state.node)
    if menu:
        for target in menu.options.values():
            if target in flow.menus:
                words += flow.menus[target].words.get(state.lang, ())
    for code in _language_keys(flow, state).values():
        words += flow.languages[code].words
    return tuple(dict.fromkeys(words))


def _understand(flow: Flow, state: CallState, digits: str | None, speech: str):
    """Turn keys or words into one key (or COUNSELOR); None when not understood."""
    if digits:
        return digits
    said = plain(speech)
    if not said:
        return None
    # Crisis first, in every language: "help, he's not breathing" is a crisis, not a menu word.
    if any(heard(said, w) for lang in flow.languages.values() for w in lang.crisis_words):
        return CRISIS
    if any(_has(said, w) for lang in flow.languages.values() for w in lang.counselor_words):
        return COUNSELOR
    if any(_has(said, w) for w in flow.languages[state.lang].repeat_words):
        return flow.repeat_key
    for key, code in _language_keys(flow, state).items():
        if any(_has(said, w) for w in flow.languages[code].words):
            return key
    menu = flow.menus.get(state.node)
    for key, target in (menu.options.items() if menu else ()):
        if target in flow.menus and any(_has(said, w) for w in flow.menus[target].words.get(state.lang, ())):
            return key
    for key, names in SPOKEN_KEYS.items():
        if any(_has(said, n) for n in names + (key,)):
            return key
    return None
