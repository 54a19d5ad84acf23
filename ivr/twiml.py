"""Turn the engine's replies into TwiML, only through the twilio library's VoiceResponse."""
from __future__ import annotations

import threading
from dataclasses import fields, is_dataclass
from typing import Callable

from twilio.twiml.voice_response import VoiceResponse

from ivr.call import Ask, Hangup, Record, Reply, Ring, Speech
from ivr.flow import Flow

# url(route, params) -> the absolute or root-relative URL Twilio should request next.
UrlFor = Callable[[str, dict], str]
NO_FLOW_VOICE, NO_FLOW_LANGUAGE = "Polly.Joanna-Neural", "en-US"


def render(reply: Reply, flow: Flow, url: UrlFor) -> str:
    """Render a Reply as a TwiML document."""
    response = VoiceResponse()
    for speech in reply.speech:
        _speak(response, speech, flow, url)
    _then(response, reply.then, flow, url)
    return str(response)


class RenderCache:
    """Rendered TwiML of one flow, by reply: the same reply of the same flow renders the same.

    Only for a `url` that depends on nothing but its arguments (and `scope`, the app's root).
    One per flow version (ivr.edition.Edition), so a new version starts empty.
    """

    def __init__(self, flow: Flow, size: int = 4096):
        self.flow, self.size = flow, size
        self._texts: dict = {}
        self._lock = threading.Lock()

    def render(self, reply: Reply, url: UrlFor, scope: str = "") -> str:
        """Render a reply, or return the text rendered for an equal reply before."""
        key = (scope, _frozen(reply))
        text = self._texts.get(key)
        if text is None:
            text = render(reply, self.flow, url)
            with self._lock:
                if len(self._texts) >= self.size:
                    self._texts.clear()  # rare: a fresh start is cheaper than tracking age
                self._texts[key] = text
        return text


_PLAIN = (str, int, float, bool, type(None), Speech)
_FIELD_NAMES: dict = {}


def _frozen(value):
    """A hashable copy of a reply, with every field of every step (dicts as sorted pairs)."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    if isinstance(value, (tuple, list)):
        return tuple(_frozen(item) for item in value)
    if is_dataclass(value):
        names = _FIELD_NAMES.get(type(value))
        if names is None:
            names = _FIELD_NAMES[type(value)] = tuple(f.name for f in fields(value))
        return (type(value).__name__,) + tuple(_frozen(getattr(value, name)) for name in names)
    raise TypeError(f"cannot key a reply holding {type(value).__name__}")


def _then(response: VoiceResponse, step, flow: Flow, url: UrlFor) -> None:
    """Append the verb that follows the speech: a Gather, Dial, Record or Hangup."""
    if isinstance(step, Ask):
        _ask(response, step, flow, url)
    elif isinstance(step, Ring):
        _ring(response, step, url)
    elif isinstance(step, Record):
        _record(response, step, url)
    elif isinstance(step, Hangup):
        response.hangup()
    # None: an empty response, which is how a screened counselor's leg is connected.


def _ask(response: VoiceResponse, ask: Ask, flow: Flow, url: UrlFor) -> None:
    """A Gather that speaks inside itself, so any key or word interrupts it."""
    lang = flow.languages[ask.lang]
    options = dict(num_digits=1, timeout=ask.timeout, action=url(ask.route, ask.params),
                   method="POST", finish_on_key="", action_on_empty_result=False)
    if ask.speech_input:
        options.update(input="dtmf speech", language=lang.speech, speech_timeout="auto")
        if ask.hints:
            options["hints"] = ", ".join(ask.hints)
    else:
        options["input"] = "dtmf"
    gather = response.gather(**options)
    for speech in ask.speech:
        _speak(gather, speech, flow, url)
    if ask.then is None:
        # Gather with no input falls through: send the caller to the silence handler.
        response.redirect(url("silence", ask.params), method="POST")
    else:
        _then(response, ask.then, flow, url)


def _speak(parent, speech: Speech, flow: Flow, url: UrlFor) -> None:
    """Say a prompt in its language's voice, or play its recording."""
    if speech.audio:
        # The flow's version in the URL: Twilio caches recordings, and a new one must be fetched.
        parent.play(url("audio", {"lang": speech.lang, "file": speech.audio, "v": flow.version}))
        return
    lang = flow.languages.get(speech.lang) or flow.languages[flow.default_language]
    parent.say(speech.text, voice=lang.voice, language=lang.speech)


def _ring(response: VoiceResponse, ring: Ring, url: UrlFor) -> None:
    """Dial a ring group; the caller hears ringing until a counselor takes the call."""
    dial = response.dial(action=url("dialed", ring.params), method="POST", timeout=ring.seconds,
                         answer_on_bridge=True)
    for number in ring.numbers:
        if ring.screen:
            dial.number(number, url=url("whisper", ring.whisper_params), method="POST")
        else:
            dial.number(number)


def _record(response: VoiceResponse, record: Record, url: UrlFor) -> None:
    """Record a message; an empty recording falls through to the same handler."""
    response.record(action=url("recorded", record.params), method="POST",
                    max_length=record.seconds, finish_on_key="#", play_beep=True, timeout=5,
                    recording_status_callback=url("recording", record.params),
                    recording_status_callback_method="POST",
                    recording_status_callback_event="completed")
    response.redirect(url("recorded", {**record.params, "empty": "1"}), method="POST")


def fallback(reply: Reply, flow: Flow, url: UrlFor) -> str:
    """The fallback's TwiML (ivr.call.fallback): the apology, then every number at once, or straight on."""
    response = VoiceResponse()
    for speech in reply.speech:
        _speak(response, speech, flow, url)
    ring = reply.then
    if ring.numbers:
        dial = response.dial(action=url("fallback", ring.params), method="POST", timeout=ring.seconds,
                             answer_on_bridge=True)
        for number in ring.numbers:
            dial.number(number)
    else:
        response.redirect(url("fallback", ring.params), method="POST")
    return str(response)


def apology(text: str, action: str) -> str:
    """With no flow at all (so no language of its own): the apology in English, then on to `action`."""
    response = VoiceResponse()
    response.say(text, voice=NO_FLOW_VOICE, language=NO_FLOW_LANGUAGE)
    response.redirect(action, method="POST")
    return str(response)


def hangup() -> str:
    """End the call: after a counselor took it on the fallback's ring."""
    response = VoiceResponse()
    response.hangup()
    return str(response)


def fallback_recording(record_url: str, empty_url: str) -> str:
    """With no flow at all: one sentence, then a recording for a callback."""
    response = VoiceResponse()
    response.say("Please leave a message after the tone, and we will call you back.")
    response.record(action=record_url, method="POST", max_length=120, finish_on_key="#",
                    play_beep=True)
    response.redirect(empty_url, method="POST")
    return str(response)


# -- a staff member's call-back from the helpline's number (ivr.callback_call) -----------------

def callback_intro(text: str, voice: str, language: str, action: str, again: str | None) -> str:
    """What the staff member hears on answering: which message, then press 1 (asked twice)."""
    response = VoiceResponse()
    gather = response.gather(num_digits=1, timeout=8, action=action, method="POST", input="dtmf",
                             finish_on_key="", action_on_empty_result=False)
    gather.say(text, voice=voice, language=language)
    if again:
        response.redirect(again, method="POST")  # silence: hear it once more
    else:
        response.say("Nobody was called. Goodbye.", voice=voice, language=language)
        response.hangup()
    return str(response)


def callback_dial(text: str, voice: str, language: str, number: str, caller_id: str, action: str) -> str:
    """Ring the caller from the helpline's number; the staff member hears ringing."""
    response = VoiceResponse()
    response.say(text, voice=voice, language=language)
    dial = response.dial(caller_id=caller_id, action=action, method="POST", timeout=30)
    dial.number(number)
    return str(response)


def goodbye(text: str, voice: str, language: str) -> str:
    """Say one thing and end the call."""
    response = VoiceResponse()
    response.say(text, voice=voice, language=language)
    response.hangup()
    return str(response)
