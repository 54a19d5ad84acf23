"""What the line does next: given where a call is and what the caller did, the next step.

Pure: no Flask, no Twilio. A call's state travels in the URLs of the TwiML we send, so
any worker or replica can serve any step; nothing per call lives in memory here.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime

from ivr.flow import COUNSELOR, KEYS, REPEAT, VOICEMAIL, Flow
from ivr.hours import describe_opening, is_open, next_opening

# Steps that are not menus of the flow but places a call can be.
VOICEMAIL_NODE, SAVED_NODE = "_voicemail", "_saved"
GUIDANCE_KEY = "9"  # in the voicemail notice and after a message: back to the guidance
PATH_LENGTH = 8  # how many recent menus a call remembers, for callbacks and statistics
MAX_SPEECH = 200
MAX_DIGITS = 32
SID = re.compile(r"[A-Za-z0-9]{1,64}")
COUNT = re.compile(r"[0-9]{1,7}")
PHONE = re.compile(r"\+?[0-9]{2,20}|[A-Za-z][A-Za-z0-9:_.@-]{0,31}")  # a number, or anonymous, client:name
HTTPS_URL = re.compile(r"https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/[A-Za-z0-9._~:/?#@!$&()*+,;=%-]{0,480}")
SPOKEN_KEYS = {
    "0": ("zero", "cero"), "1": ("one", "uno"), "2": ("two", "dos"), "3": ("three", "tres"),
    "4": ("four", "cuatro"), "5": ("five", "cinco"), "6": ("six", "seis"), "7": ("seven", "siete"),
    "8": ("eight", "ocho"), "9": ("nine", "nueve"),
}
# A screened leg that lasted this long was a conversation: a whisper (at most ~10 s of
# speech plus its 8 s wait) that ends in a decline is always shorter.
TALK_SECONDS = 45
DIAL_STATUSES = ("completed", "answered", "busy", "no-answer", "failed", "canceled")


@dataclass(frozen=True)
class CallState:
    """Where a call is: the menu, the language, failed tries, and the recent path."""

    node: str
    lang: str
    tries: int = 0
    path: tuple = ()

    def params(self) -> dict:
        """The state as short URL parameters."""
        out = {"n": self.node, "l": self.lang}
        if self.tries:
            out["t"] = str(self.tries)
        if self.path:
            out["p"] = ".".join(self.path)
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
    """Ring a counselor group (or one number of it), screening each answer if asked."""

    group: str
    numbers: tuple
    seconds: int
    screen: bool
    params: dict
    whisper_params: dict


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
    outcome: str = ""
    node: str = ""
    effects: dict = field(default_factory=dict)


# -- reading what came in ------------------------------------------------------------------

def read_state(flow: Flow, params) -> CallState:
    """Read a call's state from URL parameters, replacing anything unknown with safe values."""
    node = str(params.get("n", ""))
    if node not in flow.menus and node not in (VOICEMAIL_NODE, SAVED_NODE):
        node = flow.start
    lang = str(params.get("l", ""))
    if lang not in flow.languages:
        lang = flow.default_language
    tries = min(clean_count(params.get("t"), 99) or 0, flow.tries)
    path = tuple(p for p in str(params.get("p", ""))[:600].split(".") if p in flow.menus)
    return CallState(node, lang, tries, path[-PATH_LENGTH:])


def clean_digits(value) -> str | None:
    """Return the keys pressed if they are phone keys, else None."""
    value = str(value or "")
    if not value or len(value) > MAX_DIGITS or any(ch not in KEYS for ch in value):
        return None
    return value


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


def clean_url(value) -> str:
    """Return an https URL of printable ASCII (a recording link), else ''."""
    value = str(value or "")
    return value if HTTPS_URL.fullmatch(value) else ""


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
    key = _understand(flow, state, clean_digits(digits), str(speech or "")[:MAX_SPEECH])
    if state.node == VOICEMAIL_NODE:
        return _voicemail_choice(flow, state, key, now)
    if key == flow.counselor_key or key == COUNSELOR:
        return transfer(flow, state, now, "asked")
    if state.node == SAVED_NODE:
        if key == GUIDANCE_KEY:
            return _menu(flow, state.at(flow.start), now, full=True, outcome="chose")
        if key == flow.repeat_key:
            return _saved(flow, replace(state, tries=0), "repeated")
        return _failed(flow, state, now, "wrong_key")
    if key == flow.repeat_key:
        return _menu(flow, replace(state, tries=0), now, full=True, outcome="repeated")
    if key in _language_keys(flow, state):
        new = CallState(flow.start, _language_keys(flow, state)[key], 0, state.path)
        return _menu(flow, new, now, full=True, outcome="language")
    target = flow.menus[state.node].options.get(key) if key else None
    if target == COUNSELOR:
        return transfer(flow, state, now, "asked")
    if target == VOICEMAIL:
        return voicemail(flow, state, now)
    if target == REPEAT:
        return _menu(flow, replace(state, tries=0), now, full=True, outcome="repeated")
    if target in flow.menus:
        return _menu(flow, state.at(target), now, full=True, outcome="chose")
    return _failed(flow, state, now, "wrong_key")


def silence(flow: Flow, state: CallState, now: datetime) -> Reply:
    """The caller said and pressed nothing: apologise and ask again, or put them through."""
    if state.node == VOICEMAIL_NODE:  # the notice ended without a key: record
        return Reply(Record(state.params(), flow.record_seconds), outcome="recording", node=state.node)
    return _failed(flow, state, now, "no_input")


def transfer(flow: Flow, state: CallState, now: datetime, reason: str) -> Reply:
    """Put the caller through to the counselor group that takes calls now."""
    group = flow.group_for(is_after_hours(flow, now), state.lang)
    speech = (_say(flow, state.lang, "put_through" if reason == "tries" else "connecting"),)
    return Reply(_ring(flow, state, group, 0), speech, outcome=f"transfer:{reason}", node=state.node)


def dialed(flow: Flow, state: CallState, group: str, index: int, status: str,
           accepted: bool | None, now: datetime, seconds: int = 0) -> Reply:
    """After a ring: end politely if a counselor took the call, else lead on.

    With screening, `completed` alone may be a declined whisper or a phone's voicemail, so
    only a counselor's 1 counts; `accepted` is None when the store could not tell, and
    then only a leg longer than any whisper counts as a talk.
    """
    if group not in flow.groups:
        return transfer(flow, state, now, "again")
    ring = flow.groups[group]
    if accepted is None:
        accepted = seconds >= TALK_SECONDS
    if status in ("completed", "answered") and (accepted or not ring.screen):
        return Reply(Hangup(), (_say(flow, state.lang, "goodbye"),), outcome="talked", node=state.node)
    if ring.order == "in_turn" and index + 1 < len(ring.numbers):
        return Reply(_ring(flow, state, group, index + 1), outcome=f"ring:{status}", node=state.node)
    if ring.then in flow.groups:
        speech = (_say(flow, state.lang, "still_trying"),)
        return Reply(_ring(flow, state, ring.then, 0), speech, outcome=f"ring:{status}", node=state.node)
    return voicemail(flow, state, now, busy=True)


def voicemail(flow: Flow, state: CallState, now: datetime, busy: bool = False) -> Reply:
    """Tell the caller the message is recorded; a key skips to a counselor instead."""
    vm = replace(state, node=VOICEMAIL_NODE, tries=0)
    speech = (_say(flow, state.lang, "counselors_busy"),) if busy else ()
    ask = Ask("answer", vm.params(), (_say(flow, state.lang, "voicemail_intro"),), state.lang,
              hints=_hints(flow, vm), timeout=2,
              then=Record(vm.params(), flow.record_seconds))
    return Reply(ask, speech, outcome="voicemail", node=VOICEMAIL_NODE)


def recorded(flow: Flow, state: CallState, has_message: bool, now: datetime) -> Reply:
    """After a recording: thank the caller and offer guidance or a counselor."""
    if not has_message:
        return _failed(flow, state.at(flow.start), now, "no_input")
    return _saved(flow, CallState(SAVED_NODE, state.lang, 0, state.path), "message")


def _saved(flow: Flow, state: CallState, outcome: str, lead: tuple = ()) -> Reply:
    """Say the message is saved and wait for 9 (guidance) or 0 (a counselor)."""
    speech = lead + (_say(flow, state.lang, "message_saved"),)
    ask = Ask("answer", state.params(), speech, state.lang, _hints(flow, state), flow.wait_seconds)
    return Reply(ask, outcome=outcome, node=SAVED_NODE)


def whisper(flow: Flow, params) -> Reply:
    """What the counselor who answers hears: the line's name, the topic, the caller's language, press 1."""
    lang = flow.default_language
    node = str(params.get("n", ""))
    topic = f", about {flow.menus[node].title}" if node in flow.menus and node != flow.start else ""
    caller = str(params.get("l", ""))
    language = f", in {flow.language_name(caller)}" if caller in flow.languages and caller != lang else ""
    text = (flow.text(lang, flow.messages["whisper"]).replace("{line}", flow.name).replace("{topic}", topic)
            .replace("{language}", language))
    ask = Ask("screened", {"n": node} if node in flow.menus else {},
              (Speech("whisper", text, lang),), lang, timeout=8, speech_input=False, then=Hangup())
    return Reply(ask, outcome="whisper")


def screened(digits) -> Reply:
    """The counselor's key after the whisper: 1 connects, anything else declines."""
    if clean_digits(digits) == "1":
        return Reply(None, outcome="accepted")
    return Reply(Hangup(), outcome="declined")


# -- helpers -------------------------------------------------------------------------------

def _menu(flow: Flow, state: CallState, now: datetime, full: bool, outcome: str,
          lead: tuple = ()) -> Reply:
    """Speak a menu inside a Gather: its explanation when `full`, then its choices."""
    menu = flow.menus[state.node]
    speech = list(lead)
    if full:
        intro = [_say(flow, state.lang, p) for p in menu.intro]
        if state.node == flow.start:
            intro[1:1] = _start_extras(flow, state, now)
        speech += intro
    speech += [_say(flow, state.lang, p) for p in menu.say]
    ask = Ask("answer", state.params(), tuple(speech), state.lang, _hints(flow, state),
              flow.wait_seconds)
    return Reply(ask, outcome=outcome, node=state.node)


def _start_extras(flow: Flow, state: CallState, now: datetime) -> list:
    """The greeting's offers of other languages and, after hours, when the desk opens."""
    extras = [_say(flow, code, "language_offer") for code, lang in flow.languages.items()
              if code != state.lang and lang.key and (code, "language_offer") in flow.prompts]
    if is_after_hours(flow, now):
        opens = next_opening(flow.hours, now)
        when = describe_opening(opens, now, state.lang) if opens else ""
        text = flow.text(state.lang, flow.messages["after_hours"]).replace("{opens}", when)
        extras.append(Speech(flow.messages["after_hours"], text, state.lang))
    return extras


def _failed(flow: Flow, state: CallState, now: datetime, why: str) -> Reply:
    """A wrong key or silence: apologise and ask again, or after enough tries put through."""
    tries = state.tries + 1
    if tries >= flow.tries:
        return transfer(flow, replace(state, tries=0), now, "tries")
    again = replace(state, tries=tries)
    lead = (_say(flow, state.lang, why),)
    if state.node == SAVED_NODE:
        return _saved(flow, again, why, lead)
    return _menu(flow, again, now, full=False, outcome=why, lead=lead)


def _voicemail_choice(flow: Flow, state: CallState, key, now: datetime) -> Reply:
    """A key during the voicemail notice: 0 a counselor, 9 the guidance, else record."""
    if key in (flow.counselor_key, COUNSELOR):
        return transfer(flow, state, now, "asked")
    if key == GUIDANCE_KEY:
        return _menu(flow, state.at(flow.start), now, full=True, outcome="chose")
    return Reply(Record(state.params(), flow.record_seconds), outcome="recording", node=state.node)


def _ring(flow: Flow, state: CallState, group: str, index: int) -> Ring:
    """Build the ring of a group, or of its next number when it rings in turn."""
    ring = flow.groups[group]
    numbers = ring.numbers if ring.order == "together" else ring.numbers[index:index + 1]
    params = {**state.params(), "g": group, "i": str(index)}
    # The whisper names the caller's language when it is not the line's first one, so a
    # counselor who does not speak it knows before pressing 1.
    heard = {"n": state.node, **({"l": state.lang} if state.lang != flow.default_language else {})}
    return Ring(group, numbers, ring.seconds, ring.screen, params, heard)


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
        return digits if len(digits) == 1 else None
    said = _plain(speech)
    if not said:
        return None
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


def _plain(text: str) -> str:
    """Lowercase words without accents or punctuation, for matching speech."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.findall(r"[a-z0-9]+", text))


def _has(said: str, word: str) -> bool:
    """Whether a phrase contains a word (or words) as whole words."""
    word = _plain(word)
    return bool(word) and f" {word} " in f" {said} "
