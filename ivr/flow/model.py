"""The call flow as the line serves it: languages, ring groups, menus and the Flow that holds them.

Plain frozen dataclasses, built by ivr.flow.builder from a checked file; nothing here reads files.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ivr.hours import Hours

# Where an option may lead besides another menu.
COUNSELOR, VOICEMAIL, REPEAT = "counselor", "voicemail", "repeat"
SPECIAL_TARGETS = (COUNSELOR, VOICEMAIL, REPEAT)
KEYS = set("0123456789*#")
WORDS_PER_SECOND = 2.5  # a calm text-to-speech pace, about 150 words a minute


@dataclass(frozen=True)
class Language:
    """A language the line speaks, with its voice and the words that reach a counselor."""

    code: str
    voice: str
    speech: str
    key: str | None = None
    words: tuple = ()
    counselor_words: tuple = ()
    repeat_words: tuple = ()
    name: str = ""  # what counselors hear in the whisper when a caller chose this language
    crisis_words: tuple = ()  # words and phrases that mean a crisis: answered first, anywhere
    callback_promise: str = ""  # when a message is returned, in this language's words

    @property
    def own_name(self) -> str:
        """The language's name in itself: the first word that chooses it ("Español"), else its code."""
        return self.words[0].capitalize() if self.words else self.code


@dataclass(frozen=True)
class Group:
    """A ring group of counselor phones and what happens when nobody takes the call."""

    name: str
    numbers: tuple
    seconds: int = 25
    then: str = VOICEMAIL
    order: str = "together"  # or "in_turn"
    screen: bool = True


@dataclass(frozen=True)
class Menu:
    """One node of the call tree: what it says and where each key leads."""

    name: str
    say: tuple
    intro: tuple = ()
    options: dict = field(default_factory=dict)
    title: str = ""
    words: dict = field(default_factory=dict)  # language -> words that choose this menu


@dataclass(frozen=True)
class Flow:
    """A checked call flow: menus, prompts, counselors, hours and line settings."""

    path: str
    name: str
    languages: dict
    start: str
    menus: dict
    groups: dict
    routing: dict  # (kind, language or None) -> group name; kind is "open" or "after_hours"
    hours: Hours | None
    prompts: dict  # (language, prompt name) -> text
    audio: dict  # (language, prompt name) -> file name of a recording
    messages: dict  # purpose -> prompt name
    counselor_key: str = "0"
    repeat_key: str = "*"
    tries: int = 2
    wait_seconds: int = 6
    record_seconds: int = 120
    number: str = ""  # the line's own phone number (E.164): caller ID of call-backs, `ivr twilio`
    crisis_line: str = ""  # rung when no counselor takes a crisis caller; never voicemail
    # (language, "day_names" or "month_names") -> names staff wrote in prompts/<language>/ for
    # the after-hours notice; a language without the file is said in ivr.hours' own names.
    calendar: dict = field(default_factory=dict)
    version: str = ""
    loaded_at: float = 0.0
    warnings: tuple = ()

    @property
    def default_language(self) -> str:
        """The language a call starts in: the first one listed."""
        return next(iter(self.languages))

    def text(self, lang: str, prompt: str) -> str:
        """Return a prompt's words in a language (else the default language's), promise filled in."""
        text = self.prompts.get((lang, prompt)) or self.prompts.get((self.default_language, prompt), "")
        if "{callback_promise}" in text:  # when messages are returned, as staff set it per language
            code = lang if lang in self.languages else self.default_language
            text = text.replace("{callback_promise}", self.languages[code].callback_promise)
        return text

    def calendar_names(self, lang: str) -> tuple:
        """(day names, month names) staff wrote in prompts/<lang>/, each None when not written there."""
        return self.calendar.get((lang, "day_names")), self.calendar.get((lang, "month_names"))

    def language_name(self, code: str) -> str:
        """What counselors call a language: its `name`, else the first word that chooses it, else its code."""
        return self.languages[code].name or self.languages[code].own_name

    def group_for(self, after_hours: bool, lang: str) -> str:
        """Name the counselor group that takes a call now, in this language."""
        kind = "after_hours" if after_hours else "open"
        return self.routing.get((kind, lang)) or self.routing[(kind, None)]


def speech_seconds(text: str) -> float:
    """Estimate how many seconds text-to-speech takes to say a text."""
    return len(text.split()) / WORDS_PER_SECOND
