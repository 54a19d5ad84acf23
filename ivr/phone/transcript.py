"""What a simulated call played, line by line in words for staff: one reading for both phones.

The browser phone and `ivr call` read the same things heard the same way (the ring group from
the Dial's action, a recording's prompt from its URL); only their words differ, in a Style each.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

import phonenumbers

from ivr.call import CRISIS_GROUP
from ivr.phone.player import Heard


def pretty(number: str) -> str:
    """A phone number as people write it, with its country code."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(number),
                                          phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return number


@dataclass(frozen=True)
class Style:
    """One phone's words for what a person does and what a caller hears (str.format templates)."""

    did: dict  # gesture -> words; {keys}, {words}
    play: str  # {url}, {lang}, {file}, {text}: the prompt's words
    ring: str  # {name}, {numbers}, {timeout}, {screened}
    screened: str
    record: str  # {seconds}
    hangup: str
    end: str  # the document ran out: Twilio hangs up
    whisper: str = "{text}"
    number: Callable[[str], str] = str


BROWSER = Style(
    did={"call": "You call the line.", "press": "You press {keys}.", "say": "You say: “{words}”",
         "silence": "You stay silent.", "answer": "A counselor answers and presses 1 to take the call.",
         "no_answer": "Nobody answers.", "message": "You leave a 15-second message and press #.",
         "hang_up": "You hang up."},
    play="A recording plays: {url}",
    ring="Ringing {name} ({numbers}) for {timeout} seconds{screened}.",
    screened="; screened: the counselor hears who is calling and presses 1 to take it",
    record="Beep. Recording a message, up to {seconds} seconds; # ends it.",
    hangup="The line hangs up.", end="The line ran out of instructions and hung up.")

TERMINAL = Style(
    did={"press": "  (you press {keys})", "say": '  (you say "{words}")', "silence": "  (you say nothing)",
         "tone": "  (you wait for the tone)", "answer": "  (a counselor answers)",
         "decline": "  (a counselor answers)", "voicemail": "  (a phone's own voicemail answers)",
         "presses": "    counselor presses {keys}", "no_answer": "  (nobody answers)",
         "busy": "  (the line is busy)", "message": "  (you speak a message for 15 s and press #)",
         "hang_up": "  (you hang up)"},
    play="(plays the recording prompts/{lang}/{file}) {text}",
    ring="Ringing {name}: {numbers}{screened}, for {timeout} s",
    screened=" (screened)",
    record="(recording a message: up to {seconds} s, # ends it)",
    hangup="(the line hangs up)",
    end="(the line ran out of instructions and hung up: Twilio would do the same; report this)",
    whisper="    counselor hears: {text}", number=pretty)


@dataclass(frozen=True)
class Line:
    """One line of a transcript."""

    kind: str  # say, whisper, play, dial, record, hangup (the line's or the document's end)
    text: str
    lang: str = ""  # the language it is spoken in (a recording's: its prompt's)
    doc: str = ""  # the URL of the TwiML document it came from


def state_of(url: str | None) -> dict:
    """A URL's query parameters (the call's state: n, l, g...)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url or "").query).items()}


class Transcript:
    """The things heard on a call of one flow, as lines in one phone's style."""

    def __init__(self, flow, style: Style):
        self.flow, self.style = flow, style

    def did(self, gesture: str, **values) -> str:
        """What a person did (pressed a key, said words...), in this style's words."""
        return self.style.did[gesture].format(**values)

    def lines(self, heard: list[Heard]) -> list[Line]:
        """A line for each thing heard that a person notices (not a pause, not a wait)."""
        return [line for line in map(self.line, heard) if line is not None]

    def line(self, item: Heard) -> Line | None:
        """One thing heard, in this style's words; None for what is not shown."""
        if item.kind in ("say", "whisper"):
            template = self.style.whisper if item.kind == "whisper" else "{text}"
            return Line(item.kind, template.format(text=item.text), item.lang, item.doc)
        if item.kind == "play":
            played = self.recording(item.url)
            return Line("play", self.style.play.format(**played), played["speech"], item.doc)
        if item.kind == "dial":
            return Line("dial", self.ringing(item), doc=item.doc)
        if item.kind == "record":
            return Line("record", self.style.record.format(seconds=item.extra.get("maxLength", "?")), doc=item.doc)
        if item.kind in ("hangup", "end"):
            return Line("hangup", getattr(self.style, item.kind), doc=item.doc)
        return None

    def ringing(self, item: Heard) -> str:
        """Who rings (the crisis line or a counselor group), which numbers, how long, screened or not."""
        group = state_of(item.extra.get("action")).get("g", "")
        name = "the crisis line" if group == CRISIS_GROUP else f"counselor {group}" if group else "the counselor line"
        return self.style.ring.format(
            name=name, numbers=", ".join(self.style.number(n) for n in item.numbers),
            timeout=item.extra.get("timeout") or "?", screened=self.style.screened if item.screened else "")

    def recording(self, url: str) -> dict:
        """A played recording's URL, language, file, and the words of its prompt."""
        parts = urlsplit(url).path.split("/")  # /audio/<lang>/<file>
        lang, file = (parts[-2], parts[-1]) if len(parts) >= 4 else ("?", url)
        known = self.flow.languages.get(lang)
        return {"url": url, "lang": lang, "file": file, "speech": known.speech if known else lang,
                "text": self.flow.text(lang, Path(file).stem) if known else ""}

    def prompt(self, text: str) -> str | None:
        """The name of the prompt a spoken text came from, if any."""
        return next((name for pattern, name in _prompt_patterns(self.flow) if pattern.match(text)), None)


_patterns: dict = {}  # flow version -> _prompt_patterns' answer: built once, not on every step


def _prompt_patterns(flow) -> list[tuple]:
    """(pattern, prompt name) for every prompt; placeholders match any words."""
    found = _patterns.get(flow.version)
    if found is None:
        found = []
        for (_, name), text in flow.prompts.items():
            pattern = re.escape(text)
            for hole in re.findall(r"\{[a-z_]+\}", text):
                pattern = pattern.replace(re.escape(hole), ".*?")
            found.append((re.compile(pattern + r"\Z", re.S), name))
        if len(_patterns) > 8:
            _patterns.clear()
        _patterns[flow.version] = found
    return found
