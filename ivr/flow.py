"""The call flow: what call_flows.yaml and prompts/ say, checked and ready to serve.

Pure: knows neither Flask nor Twilio. `check_flow` finds every problem at once;
`load_flow` returns a Flow or raises FlowError with all of them.
"""
from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers

from ivr.hours import Hours, parse_hours
from ivr.problem import FlowError, Problem, did_you_mean
from ivr.source import Source, read_source
from ivr.voices import LANGUAGES, voice_problem

# Where an option may lead besides another menu.
COUNSELOR, VOICEMAIL, REPEAT = "counselor", "voicemail", "repeat"
SPECIAL_TARGETS = (COUNSELOR, VOICEMAIL, REPEAT)
KEYS = set("0123456789*#")
PROMPT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
SAY_LIMIT = 3000  # Twilio's limit for one <Say> with an Amazon Polly voice
WORDS_PER_SECOND = 2.5  # a calm text-to-speech pace, about 150 words a minute
MAX_RING_SECONDS = 30
AUDIO_SUFFIXES = (".wav", ".mp3")
# What a missing required field looks like when written, for "add a line like ..." advice.
EXAMPLES = {"line": "line: {name: Recovery Helpline, languages: ...}", "counselors": "counselors: ...",
            "start": "start: welcome", "menus": "menus: ...", "name": "name: Recovery Helpline",
            "languages": "languages: {en: {voice: Polly.Joanna-Neural, language: en-US}}",
            "voice": "voice: Polly.Joanna-Neural", "language": "language: en-US",
            "ring": 'ring: ["+15555550100"]', "say": "say: detox_menu",
            "crisis_line": 'crisis_line: "+18002738255"'}

# The prompts the line itself speaks, by purpose; staff may point a purpose at another file.
MESSAGES = ("no_input", "wrong_key", "connecting", "still_trying", "put_through", "counselors_busy",
            "voicemail_intro", "message_saved", "goodbye", "after_hours", "whisper", "fallback_sorry",
            "safety_short", "crisis_now", "crisis_line", "crisis_whisper", "no_message", "not_saved")
# Placeholders a message must keep, so the line can fill them in.
PLACEHOLDERS = {"after_hours": ("{opens}",), "whisper": ("{line}", "{topic}")}
# Placeholders a message should keep (a warning, not an error: the line still works without them).
# Only for lines with more than one language: {language} names the caller's.
WANTED = {"whisper": ("{language}",)}


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

    def language_name(self, code: str) -> str:
        """What counselors call a language: its `name`, else the first word that chooses it, else its code."""
        return self.languages[code].name or self.languages[code].own_name

    def group_for(self, after_hours: bool, lang: str) -> str:
        """Name the counselor group that takes a call now, in this language."""
        kind = "after_hours" if after_hours else "open"
        return self.routing.get((kind, lang)) or self.routing[(kind, None)]


def load_flow(path) -> Flow:
    """Load and check a call-flow file; raise FlowError listing every problem."""
    flow, problems = check_flow(path)
    if flow is None:
        raise FlowError([p for p in problems if p.is_error])
    return flow


def check_flow(path) -> tuple[Flow | None, list[Problem]]:
    """Check a call-flow file; return the Flow (None on errors) and every problem found."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(f"cannot read the call-flow file ({exc.strerror}); check the path "
                              "or IVR_CALL_FLOWS.", None, file=str(path))]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem("the file is not UTF-8 text; save it as UTF-8.", line, file=str(path))]
    src = read_source(text)
    builder = _Builder(src, path)
    flow = builder.build() if src.data is not None else None
    problems = [Problem(p.message, p.line, p.severity, p.file or str(path))
                for p in src.problems + builder.problems]
    problems.sort(key=lambda p: (p.file or "", p.line or 0))
    if any(p.is_error for p in problems):
        return None, problems
    if flow is not None:
        flow = _replace(flow, warnings=tuple(problems), version=_version(raw, flow))
    return flow, problems


def _replace(flow: Flow, **changes) -> Flow:
    """Return a copy of a Flow with some fields changed."""
    from dataclasses import replace
    return replace(flow, **changes)


def speech_seconds(text: str) -> float:
    """Estimate how many seconds text-to-speech takes to say a text."""
    return len(text.split()) / WORDS_PER_SECOND


class _Builder:
    """Turns a Source into a Flow, collecting every problem on the way."""

    TOP = {"line": True, "counselors": True, "routing": False, "hours": False, "start": True,
           "menus": True, "messages": False}
    LINE = {"name": True, "languages": True, "counselor_key": False, "repeat_key": False,
            "tries": False, "wait_seconds": False, "record_seconds": False, "crisis_line": True,
            "number": False}
    LANGUAGE = {"voice": True, "language": True, "key": False, "words": False,
                "counselor_words": False, "repeat_words": False, "name": False,
                "crisis_words": False, "callback_promise": False}
    GROUP = {"ring": True, "seconds": False, "then": False, "order": False, "screen": False}
    MENU = {"say": True, "intro": False, "options": False, "title": False, "words": False}

    def __init__(self, src: Source, path: Path):
        self.src, self.path, self.problems = src, path, []
        self.folder = path.parent

    # -- reporting -------------------------------------------------------------------------
    def error(self, path: tuple | None, message: str) -> None:
        """Record an error at the line of a path (None: a problem no line of the file holds)."""
        self.problems.append(Problem(message, self.src.line(path)))

    def warn(self, path: tuple | None, message: str) -> None:
        """Record a warning at the line of a path (None: no line of the file holds it)."""
        self.problems.append(Problem(message, self.src.line(path), "warning"))

    # -- typed field readers -----------------------------------------------------------------
    def mapping(self, path: tuple, value, fields: dict, what: str) -> dict:
        """Check a mapping's keys against the known fields; return it or {}."""
        if not isinstance(value, dict):
            self.error(path, f"{what} should be a set of 'name: value' lines, not {_kind(value)}.")
            return {}
        for key in value:
            if key not in fields:
                self.error(path + (key,), f"{what} has an unknown field '{key}'"
                           f"{did_you_mean(key, fields)}; the fields are {', '.join(fields)}.")
        for key, required in fields.items():
            if required and key not in value:
                example = f"; add a line like  {EXAMPLES[key]}" if key in EXAMPLES else ""
                self.error(path, f"{what} is missing '{key}'{example}.")
        return value

    def text(self, path: tuple, value, what: str) -> str | None:
        """Read a text field, warning where YAML 1.1 would have read it as something else."""
        if not isinstance(value, str):
            self.error(path, f"{what} should be text, not {_kind(value)}.")
            return None
        kind = self.src.implicit.get(path)
        if kind in ("bool", "int", "float", "sexagesimal", "null"):
            yaml11 = {"bool": "true/false", "null": "empty", "sexagesimal": "a number"}.get(kind, "a number")
            self.warn(path, f"{what} '{value}' is unquoted, and YAML 1.1 reads it as {yaml11}; "
                      f"it is read here as the text '{value}'. Put it in quotes (\"{value}\") to be sure.")
        return value

    def number(self, path: tuple, value, what: str, low: int, high: int, default: int) -> int:
        """Read a whole number in a range, or report it and use the default."""
        if value is None:
            return default
        if not isinstance(value, str) or not re.fullmatch(r"\d+", value.strip()):
            self.error(path, f"{what} should be a whole number from {low} to {high}, not {_kind(value)}.")
            return default
        number = int(value)
        if not low <= number <= high:
            self.error(path, f"{what} is {number}; it must be from {low} to {high}.")
            return default
        return number

    def flag(self, path: tuple, value, what: str, default: bool) -> bool:
        """Read a yes/no field."""
        if value is None:
            return default
        word = str(value).strip().lower()
        if word in ("yes", "true", "on"):
            return True
        if word in ("no", "false", "off"):
            return False
        self.error(path, f"{what} should be yes or no, not '{value}'.")
        return default

    def words(self, path: tuple, value, what: str) -> tuple:
        """Read a list of words (or one word)."""
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
            self.error(path, f"{what} should be a list of words, like [counselor, help].")
            return ()
        return tuple(w.strip().lower() for w in value if w.strip())

    def prompt_names(self, path: tuple, value, what: str) -> tuple:
        """Read one prompt name or a list of them, refusing names that leave prompts/."""
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.error(path, f"{what} should name a prompt file (or a list of them), like 'detox'.")
            return ()
        good = []
        for i, name in enumerate(names):
            where = path if isinstance(value, str) else path + (i,)
            if not PROMPT_NAME.fullmatch(name):
                self.error(where, f"{what} '{name}' is not a plain prompt name; use letters, digits, "
                           "'_' and '-' only (no folders, dots or slashes): it names "
                           "prompts/<language>/<name>.txt.")
            else:
                good.append(name)
        return tuple(good)

    # -- sections ----------------------------------------------------------------------------
    def build(self) -> Flow | None:
        """Build the whole Flow from the source, or None when the top level is unusable."""
        top = self.mapping((), self.src.data, self.TOP, "the file")
        if not top:
            return None
        line = self.mapping(("line",), top.get("line", {}), self.LINE, "'line'")
        languages = self.languages(line.get("languages"))
        groups = self.groups(top.get("counselors"))
        routing = self.routing(top.get("routing"), groups, languages)
        hours = self.hours(top.get("hours"))
        menus = self.menus(top.get("menus"), languages)
        start = self.text(("start",), top.get("start", ""), "start") or ""
        if menus and start not in menus:
            self.error(("start",), f"start is '{start}', which is not a menu{did_you_mean(start, menus)}.")
        messages = self.messages(top.get("messages"))
        keys = {k: self.key(("line", k), line.get(k), d) for k, d in
                (("counselor_key", "0"), ("repeat_key", "*"))}
        self.check_menus(menus, groups, keys)
        self.check_crisis_words(languages, menus)
        crisis_line = self.crisis_line(line.get("crisis_line"))
        self.check_language_keys(languages, menus.get(start), keys)
        if menus and start in menus:
            self.check_reach(menus, start)
            self.check_dead_ends(menus, start)
        prompts, audio = self.prompts(menus, messages, languages)
        name = self.text(("line", "name"), line.get("name", ""), "the line's name") or ""
        number = self.own_number(line.get("number"))
        return Flow(
            path=str(self.path), name=name, languages=languages, start=start, menus=menus,
            groups=groups, routing=routing, hours=hours, prompts=prompts, audio=audio,
            messages=messages, counselor_key=keys["counselor_key"], repeat_key=keys["repeat_key"],
            tries=self.number(("line", "tries"), line.get("tries"), "tries", 1, 5, 2),
            wait_seconds=self.number(("line", "wait_seconds"), line.get("wait_seconds"),
                                     "wait_seconds", 3, 20, 6),
            record_seconds=self.number(("line", "record_seconds"), line.get("record_seconds"),
                                       "record_seconds", 30, 600, 120),
            number=number, crisis_line=crisis_line, loaded_at=time.time(),
        )

    def own_number(self, value) -> str:
        """Read line.number, the line's own phone number in E.164 form (optional)."""
        if value is None:
            return ""
        if not _is_e164(value):
            self.error(("line", "number"), f"'{value}' is not a phone number in E.164 form; write it "
                       "like \"+18564437701\" (+, country code, number, in quotes).")
            return ""
        return value

    def key(self, path: tuple, value, default: str) -> str:
        """Read a caller key: one of 0-9, * or #."""
        if value is None:
            return default
        if value not in KEYS:
            self.error(path, f"'{value}' is not a phone key; use one of 0-9, * or #.")
            return default
        return value

    def languages(self, value) -> dict:
        """Read line.languages: each code with its voice, speech language and words."""
        base = ("line", "languages")
        if not isinstance(value, dict) or not value:
            self.error(base, "line.languages should list at least one language, like "
                       "'en: {voice: Polly.Joanna-Neural, language: en-US}'.")
            return {"en": Language("en", "Polly.Joanna-Neural", "en-US")}
        out = {}
        for code, spec in value.items():
            path = base + (code,)
            spec = self.mapping(path, spec, self.LANGUAGE, f"language '{code}'")
            if not re.fullmatch(r"[a-z]{2}", code):
                self.error(path, f"language code '{code}' should be two lowercase letters, like 'en' or 'es'.")
            speech = spec.get("language", "en-US")
            bad_speech = isinstance(speech, str) and speech not in LANGUAGES
            if bad_speech:
                self.error(path + ("language",), f"language '{speech}' is not one Twilio speaks and "
                           f"understands in that form{did_you_mean(speech, LANGUAGES)}; write it like 'en-US'.")
            voice = spec.get("voice", "")
            trouble = voice_problem(voice, speech) if isinstance(voice, str) else "voice should be text"
            if trouble and not (bad_speech and trouble.startswith(f"voice '{voice}' speaks")):
                self.error(path + ("voice",), trouble + ".")
            key = spec.get("key")
            if key is not None and key not in KEYS:
                self.error(path + ("key",), f"'{key}' is not a phone key; use one of 0-9, * or #.")
            out[code] = Language(
                code=code, voice=str(voice), speech=str(speech), key=key if key in KEYS else None,
                words=self.words(path + ("words",), spec.get("words"), "words"),
                counselor_words=self.words(path + ("counselor_words",), spec.get("counselor_words"),
                                           "counselor_words"),
                repeat_words=self.words(path + ("repeat_words",), spec.get("repeat_words"), "repeat_words"),
                name=(self.text(path + ("name",), spec["name"], "name") or "") if "name" in spec else "",
                crisis_words=self.words(path + ("crisis_words",), spec.get("crisis_words"), "crisis_words"),
                callback_promise=(self.text(path + ("callback_promise",), spec["callback_promise"],
                                            "callback_promise") or "").strip()
                if spec.get("callback_promise") is not None else "")
            if not out[code].crisis_words:
                self.warn(path, f"language '{code}' has no crisis_words: a caller in crisis who speaks it "
                          "will not be heard as one. Add a list like  crisis_words: [overdose, suicide, "
                          "emergency].")
        return out

    def crisis_line(self, value) -> str:
        """Read line.crisis_line: the number a crisis caller reaches when no counselor answers."""
        if value is None:
            return ""  # reported as missing by mapping()
        if not _is_e164(value):
            self.error(("line", "crisis_line"), f"crisis_line '{value}' is not a phone number in E.164 "
                       "form; write it with + and the country code, like \"+18002738255\" (the 988 "
                       "Lifeline).")
            return ""
        return str(value)

    def check_crisis_words(self, languages: dict, menus: dict) -> None:
        """A crisis word must never be an ordinary word of a menu, a counselor word or a repeat word."""
        from ivr.speech import plain  # one normalisation for the check and for the calls
        ordinary: dict = {}
        for code, lang in languages.items():
            for kind, words in (("a counselor word", lang.counselor_words), ("a repeat word", lang.repeat_words),
                                ("a word that chooses a language", lang.words)):
                for word in words:
                    ordinary.setdefault(plain(word), kind)
        for name, menu in menus.items():
            for words in menu.words.values():
                for word in words:
                    ordinary.setdefault(plain(word), f"a word of menu '{name}'")
        for code, lang in languages.items():
            for i, word in enumerate(lang.crisis_words):
                where = ("line", "languages", code, "crisis_words", i)
                if not plain(word):
                    self.error(where, f"crisis word '{word}' has no letters or digits; remove it.")
                elif plain(word) in ordinary:
                    self.error(where, f"crisis word '{word}' is also {ordinary[plain(word)]}: an ordinary "
                               "choice would be taken as a crisis. Remove it from one of the lists.")

    def groups(self, value) -> dict:
        """Read the counselor ring groups."""
        base = ("counselors",)
        if not isinstance(value, dict) or not value:
            self.error(base, "counselors should name at least one ring group, like "
                       "'desk: {ring: [\"+15555550100\"]}'.")
            return {}
        out = {}
        for name, spec in value.items():
            path = base + (name,)
            spec = self.mapping(path, spec, self.GROUP, f"counselor group '{name}'")
            ring = spec.get("ring")
            numbers = [ring] if isinstance(ring, str) else ring
            if not isinstance(numbers, list) or not numbers:
                self.error(path + ("ring",), f"group '{name}' should ring at least one number, "
                           "like ring: [\"+15555550100\"].")
                numbers = []
            for i, number in enumerate(numbers):
                where = path + ("ring",) if isinstance(ring, str) else path + ("ring", i)
                if not _is_e164(number):
                    self.error(where, f"'{number}' is not a phone number in E.164 form; write it "
                               "with + and the country code, no spaces, like \"+15555550100\".")
                elif self.src.implicit.get(where) in ("int", "float"):
                    self.warn(where, f"'{number}' is unquoted; put it in quotes to be sure it stays a phone number.")
            order = spec.get("order", "together")
            if order not in ("together", "in_turn"):
                self.error(path + ("order",), f"order should be 'together' (ring all at once) or "
                           f"'in_turn' (one after another), not '{order}'.")
                order = "together"
            if len(numbers) > 10 and order == "together":
                self.error(path + ("ring",), "Twilio rings at most 10 numbers at once; split the "
                           "group or use order: in_turn.")
            out[name] = Group(
                name=name, numbers=tuple(str(n) for n in numbers),
                seconds=self.number(path + ("seconds",), spec.get("seconds"), "seconds", 5,
                                    MAX_RING_SECONDS, 25),
                then=str(spec.get("then", VOICEMAIL)), order=order,
                screen=self.flag(path + ("screen",), spec.get("screen"), "screen", True))
        self.check_chains(out)
        return out

    def check_chains(self, groups: dict) -> None:
        """Each group must lead on to another group or to voicemail, never in a circle."""
        circles = set()
        for name, group in groups.items():
            if group.then != VOICEMAIL and group.then not in groups:
                self.error(("counselors", name, "then"), f"group '{name}' then goes to '{group.then}', "
                           f"which is neither a counselor group nor voicemail{did_you_mean(group.then, list(groups) + [VOICEMAIL])}.")
                continue
            seen, current = [name], group.then
            while current in groups:
                if current in seen:
                    circle = frozenset(seen[seen.index(current):])
                    if circle not in circles:
                        circles.add(circle)
                        self.error(("counselors", name, "then"), f"groups {' -> '.join(seen + [current])} "
                                   "ring in a circle and never reach voicemail; end the chain with then: voicemail.")
                    break
                seen.append(current)
                current = groups[current].then

    def routing(self, value, groups: dict, languages: dict) -> dict:
        """Read which group takes calls in hours and after hours, per language if given."""
        base = ("routing",)
        value = value if value is not None else {}
        allowed = {"open": False, "after_hours": False, **{code: False for code in languages}}
        value = self.mapping(base, value, allowed, "routing")
        out = {}
        defaults = {"open": "desk", "after_hours": "on_call"}
        for kind, fallback in defaults.items():
            name = value.get(kind, fallback if fallback in groups else next(iter(groups), ""))
            self.check_group(base + (kind,), name, groups)
            out[(kind, None)] = name
        for code in languages:
            if code in value:
                spec = self.mapping(base + (code,), value[code], {"open": False, "after_hours": False},
                                    f"routing for '{code}'")
                for kind, name in spec.items():
                    self.check_group(base + (code, kind), name, groups)
                    out[(kind, code)] = name
        self.check_used(groups, out)
        return out

    def check_used(self, groups: dict, routing: dict) -> None:
        """Warn about a counselor group no call can ever ring."""
        used = _reachable(None, {None: routing.values(), **{n: [g.then] for n, g in groups.items()}})
        for name in groups:
            if name not in used:
                self.warn(("counselors", name), f"counselor group '{name}' is never rung: routing does "
                          "not send calls to it and no group's 'then' leads to it. Name it in routing "
                          "or in another group's 'then', or remove it.")

    def check_group(self, path: tuple, name, groups: dict) -> None:
        """Report a routing entry that names no counselor group."""
        if groups and name not in groups:
            self.error(path, f"routing sends calls to '{name}', which is not a counselor group"
                       f"{did_you_mean(name, groups)}.")

    def hours(self, value) -> Hours | None:
        """Read the business hours through ivr.hours, with lines from this file."""
        if value is None:
            return None
        base = ("hours",)
        hours, problems = parse_hours(value, lambda p: self.src.line(base + tuple(p)),
                                      lambda p: self.src.implicit.get(base + tuple(p)))
        self.problems.extend(problems)
        return hours

    def menus(self, value, languages: dict) -> dict:
        """Read every menu: its prompts, options and the words that choose it."""
        base = ("menus",)
        if not isinstance(value, dict) or not value:
            self.error(base, "menus should list at least one menu.")
            return {}
        out = {}
        for name, spec in value.items():
            path = base + (name,)
            spec = self.mapping(path, spec, self.MENU, f"menu '{name}'")
            options = spec.get("options", {})
            if not isinstance(options, dict):
                self.error(path + ("options",), f"menu '{name}' options should be lines like '\"1\": detox'.")
                options = {}
            clean = {}
            for key, target in options.items():
                where = path + ("options", key)
                if key not in KEYS:
                    self.error(where, f"menu '{name}' has option key '{key}'; an option key is one "
                               "phone key: 0-9, * or #.")
                elif self.src.implicit_keys.get(where) == "int":
                    self.warn(where, f"menu '{name}' option key {key} is unquoted; YAML 1.1 reads it as "
                              f"a number. It is read here as the key \"{key}\"; write \"{key}\" to be sure.")
                if not isinstance(target, str):
                    self.error(where, f"menu '{name}' option '{key}' should name a menu or one of "
                               f"{', '.join(SPECIAL_TARGETS)}.")
                    continue
                clean[key] = target
            words = spec.get("words", {})
            if isinstance(words, (str, list)):
                words = {next(iter(languages)): words}
            if not isinstance(words, dict):
                self.error(path + ("words",), "words should list words per language, like 'en: [detox]'.")
                words = {}
            out[name] = Menu(
                name=name, say=self.prompt_names(path + ("say",), spec.get("say", name), "say"),
                intro=self.prompt_names(path + ("intro",), spec["intro"], "intro") if "intro" in spec else (),
                options=clean, title=self.text(path + ("title",), spec.get("title", name.replace("_", " ")),
                                              f"menu '{name}' title") or name,
                words={code: self.words(path + ("words", code), w, "words") for code, w in words.items()})
            for code in words:
                if code not in languages:
                    self.error(path + ("words", code), f"words are given for '{code}', which is not a "
                               f"language of this line{did_you_mean(code, languages)}.")
        return out

    def check_menus(self, menus: dict, groups: dict, keys: dict) -> None:
        """Check each option's target, the reserved keys and the size of each menu."""
        for name, menu in menus.items():
            path = ("menus", name)
            for key, target in menu.options.items():
                where = path + ("options", key)
                if target not in menus and target not in SPECIAL_TARGETS:
                    self.error(where, f"menu '{name}', key {key} goes to '{target}', which is not "
                               f"defined{did_you_mean(target, list(menus) + list(SPECIAL_TARGETS))}.")
                if key == keys["counselor_key"] and target != COUNSELOR:
                    self.error(where, f"menu '{name}' uses key {key} for '{target}', but {key} reaches "
                               "a counselor from every menu; pick another key.")
                if key == keys["repeat_key"] and target != REPEAT:
                    self.error(where, f"menu '{name}' uses key {key} for '{target}', but {key} repeats "
                               "in every menu; pick another key.")
            # The counselor key is the same in every menu and said in the welcome: not a choice to remember.
            choices = [k for k in menu.options if k != keys["counselor_key"]]
            if len(choices) > 5:
                self.warn(path + ("options",), f"menu '{name}' has {len(choices)} options besides "
                          f"{keys['counselor_key']}; callers remember five at most. Consider splitting it.")

    def check_language_keys(self, languages: dict, start, keys: dict) -> None:
        """A key that chooses a language must mean nothing else where it is offered."""
        if keys["counselor_key"] == keys["repeat_key"]:
            self.error(("line", "repeat_key"), f"repeat_key and counselor_key are both {keys['repeat_key']}; "
                       "give them different keys.")
        taken = {keys["counselor_key"]: "reaches a counselor", keys["repeat_key"]: "repeats"}
        for code, lang in languages.items():
            if lang.key is None:
                continue
            where = ("line", "languages", code, "key")
            if lang.key in taken:
                self.error(where, f"language '{code}' is chosen with key {lang.key}, but {lang.key} "
                           f"{taken[lang.key]} in the greeting; pick another key.")
                continue
            taken[lang.key] = f"chooses language '{code}'"
            if start is not None and lang.key in start.options and len(languages) > 1:
                self.error(("menus", start.name, "options", lang.key), f"menu '{start.name}' uses key "
                           f"{lang.key} for '{start.options[lang.key]}', but {lang.key} chooses language "
                           f"'{code}' in the greeting; pick another key.")

    def check_reach(self, menus: dict, start: str) -> None:
        """Warn about menus no caller can reach from the start."""
        seen = _reachable(start, {name: menu.options.values() for name, menu in menus.items()})
        for name in menus:
            if name not in seen:
                self.warn(("menus", name), f"menu '{name}' cannot be reached: no key leads to it from "
                          f"'{start}'. Add an option for it, or remove it.")

    def check_dead_ends(self, menus: dict, start: str) -> None:
        """Every menu must lead back to the start menu, through its keys or other menus'."""
        back: dict = {}
        for name, menu in menus.items():
            for target in menu.options.values():
                back.setdefault(target, []).append(name)
        leads_home = _reachable(start, back)
        for name, menu in menus.items():
            moves = any(t in menus and t != name for t in menu.options.values())
            if not moves or (name != start and name not in leads_home):
                self.error(("menus", name), f"menu '{name}' is a dead end: no key leads back to "
                           f"'{start}', directly or through other menus. Add one, like '\"9\": {start}'.")

    def messages(self, value) -> dict:
        """Read which prompt speaks each of the line's own messages."""
        out = {purpose: purpose for purpose in MESSAGES}
        if value is None:
            return out
        value = self.mapping(("messages",), value, {m: False for m in MESSAGES}, "messages")
        for purpose, name in value.items():
            names = self.prompt_names(("messages", purpose), name, f"message '{purpose}'")
            if names:
                out[purpose] = names[0]
        return out

    def prompts(self, menus: dict, messages: dict, languages: dict) -> tuple[dict, dict]:
        """Read every prompt file the flow uses, in every language."""
        uses: dict = {}
        for name, menu in menus.items():
            for field_name in ("intro", "say"):
                for i, prompt in enumerate(getattr(menu, field_name)):
                    uses.setdefault(prompt, ("menus", name, field_name))
        for purpose, prompt in messages.items():
            # The line's own messages need no entry in the file: no line to point at then.
            uses.setdefault(prompt, ("messages", purpose) if ("messages", purpose) in self.src.lines else None)
        prompts, audio = {}, {}
        for code in languages:
            folder = self.folder / "prompts" / code
            # One listing per folder instead of a look per prompt and suffix: big flows load fast.
            listed = _lowered_names(folder)
            for prompt, where in uses.items():
                text = self.prompt_text(folder, code, prompt, where)
                if text is not None:
                    prompts[(code, prompt)] = text
                recording = self.recording(folder, code, prompt, where, listed)
                if recording:
                    audio[(code, prompt)] = recording
            offer = folder / "language_offer.txt"
            if len(languages) > 1 and offer.is_file():
                prompts[(code, "language_offer")] = offer.read_text("utf-8").strip()
        for code, lang in languages.items():
            promised = sorted(name for (c, name), text in prompts.items() if c == code and "{callback_promise}" in text)
            if promised and not lang.callback_promise:
                self.error(("line", "languages", code), f"prompts/{code}/{promised[0]}.txt says {{callback_promise}}, "
                           f"but language '{code}' has no callback_promise; add a line like  callback_promise: "
                           "\"within one working day\" (when messages are really returned).")
        for purpose, holes in PLACEHOLDERS.items():
            for code in languages:
                text = prompts.get((code, messages[purpose]), "")
                for hole in holes:
                    if text and hole not in text:
                        self.error(uses.get(messages[purpose]), f"prompts/{code}/{messages[purpose]}.txt must contain "
                                   f"{hole} where the line fills it in; put it back.")
        first = next(iter(languages))  # the whisper is spoken in the line's first language
        for purpose, holes in WANTED.items() if len(languages) > 1 else ():
            text = prompts.get((first, messages[purpose]), "")
            for hole in holes:
                if text and hole not in text:
                    self.warn(uses.get(messages[purpose]), f"prompts/{first}/{messages[purpose]}.txt has no "
                              f"{hole}: counselors will not hear which language a caller chose. Put it back "
                              f"where the line should say it (\"..., in Spanish.\").")
        self.check_recordings(languages, set(uses) | {"language_offer"})
        return prompts, audio

    def recording(self, folder: Path, code: str, prompt: str, where: tuple | None,
                  listed: set | None = None) -> str | None:
        """The file name of a prompt's recording, if there is a usable one (`listed`: the folder's names)."""
        for suffix in AUDIO_SUFFIXES:
            if listed is not None and f"{prompt}{suffix}".lower() not in listed:
                continue  # not in the folder: no need to ask the disk
            file = folder / f"{prompt}{suffix}"
            if file.is_file():
                if file.stat().st_size == 0:
                    self.error(where, f"prompts/{code}/{file.name} is empty; record it again, or "
                               "remove it to use text-to-speech.")
                    return None
                return file.name
        return None

    def check_recordings(self, languages: dict, used: set) -> None:
        """Warn about recordings that no prompt of the flow plays (a misspelt name, say)."""
        for code in languages:
            for suffix in AUDIO_SUFFIXES:
                for file in sorted((self.folder / "prompts" / code).glob(f"*{suffix}")):
                    if file.stem not in used:
                        self.warn(None, f"prompts/{code}/{file.name} is never played: no prompt is "
                                  f"called '{file.stem}'{did_you_mean(file.stem, used)}. Rename it to "
                                  "the prompt it records.")

    def prompt_text(self, folder: Path, code: str, prompt: str, where: tuple | None) -> str | None:
        """Read one prompt file, reporting a missing, empty or over-long one."""
        file = os.path.join(folder, f"{prompt}.txt")
        shown = f"prompts/{code}/{prompt}.txt"
        try:
            with open(file, encoding="utf-8") as f:
                text = f.read().strip()
        except FileNotFoundError:
            self.error(where, f"prompt '{prompt}' has no file {shown}; create it with the words to say"
                       f"{did_you_mean(prompt, [p.stem for p in folder.glob('*.txt')])}.")
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.error(where, f"{shown} cannot be read as UTF-8 text ({exc}); save it as UTF-8.")
            return None
        if not text:
            self.error(where, f"{shown} is empty; write the words to say.")
            return None
        if len(text) > SAY_LIMIT:
            self.error(where, f"{shown} has {len(text)} characters; Twilio's Polly voices say at most "
                       f"{SAY_LIMIT} in one go. Split it into two prompts.")
            return None
        return text


def _lowered_names(folder: Path) -> set:
    """The names in a folder, lowercased (so a case-insensitive disk is judged as before)."""
    try:
        return {entry.name.lower() for entry in os.scandir(folder)}
    except OSError:
        return set()


def _reachable(start, edges: dict) -> set:
    """Every node reachable from start along edges (name -> targets), start included."""
    seen, todo = {start}, [start]
    while todo:
        for target in edges.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _is_e164(number) -> bool:
    """Whether a value is a phone number written in E.164 form."""
    if not isinstance(number, str) or not re.fullmatch(r"\+[1-9]\d{6,14}", number):
        return False
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return False


def _kind(value) -> str:
    """Name the kind of a value the way staff would."""
    if isinstance(value, dict):
        return "a set of fields"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"'{value}'"


def _version(raw: bytes, flow: Flow) -> str:
    """A short hash of the flow file (as checked), every prompt and every recording's size and time."""
    digest = hashlib.sha256(raw)
    for key in sorted(flow.prompts):
        digest.update(repr((key, flow.prompts[key])).encode())
    folder = Path(flow.path).parent / "prompts"
    for (code, name), file in sorted(flow.audio.items()):
        try:  # a re-recorded prompt is a new version, so Twilio fetches it anew
            stat = (folder / code / file).stat()
            digest.update(repr((code, name, file, stat.st_size, stat.st_mtime_ns)).encode())
        except OSError:
            digest.update(repr((code, name, file)).encode())
    return digest.hexdigest()[:12]
