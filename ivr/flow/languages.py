"""The `line.languages` section: each language's voice, speech language and words."""
from __future__ import annotations

import re

from ivr.fields import Fields
from ivr.flow.model import KEYS, Language
from ivr.flow.schema import LANGUAGE
from ivr.problem import did_you_mean
from ivr.voices import LANGUAGES, voice_problem

BASE = ("line", "languages")


def read_languages(f: Fields, value) -> dict:
    """Read line.languages: each code with its voice, speech language and words."""
    if not isinstance(value, dict) or not value:
        f.error(BASE, "line.languages should list at least one language, like "
                "'en: {voice: Polly.Joanna-Neural, language: en-US}'.")
        return {"en": Language("en", "Polly.Joanna-Neural", "en-US")}
    out = {}
    for code, spec in value.items():
        out[code] = _language(f, code, f.mapping(BASE + (code,), spec, LANGUAGE, f"language '{code}'"))
        if not out[code].crisis_words:
            f.warn(BASE + (code,), f"language '{code}' has no crisis_words: a caller in crisis who speaks it "
                   "will not be heard as one. Add a list like  crisis_words: [overdose, suicide, "
                   "emergency].")
    return out


def _language(f: Fields, code: str, spec: dict) -> Language:
    """Read one language's fields."""
    path = BASE + (code,)
    if not re.fullmatch(r"[a-z]{2}", code):
        f.error(path, f"language code '{code}' should be two lowercase letters, like 'en' or 'es'.")
    speech = spec.get("language", "en-US")
    bad_speech = isinstance(speech, str) and speech not in LANGUAGES
    if bad_speech:
        f.error(path + ("language",), f"language '{speech}' is not one Twilio speaks and "
                f"understands in that form{did_you_mean(speech, LANGUAGES)}; write it like 'en-US'.")
    voice = spec.get("voice", "")
    trouble = voice_problem(voice, speech) if isinstance(voice, str) else "voice should be text"
    if trouble and not (bad_speech and trouble.startswith(f"voice '{voice}' speaks")):
        f.error(path + ("voice",), trouble + ".")
    key = spec.get("key")
    if key is not None and not isinstance(key, str):  # a list or a mapping: not a key (nor hashable)
        f.error(path + ("key",), "key should be one phone key, like  key: \"8\"; use one of 0-9, * or #.")
    elif key is not None and key not in KEYS:
        f.error(path + ("key",), f"'{key}' is not a phone key; use one of 0-9, * or #.")
    return Language(
        code=code, voice=str(voice), speech=str(speech),
        key=key if isinstance(key, str) and key in KEYS else None,
        words=f.words(path + ("words",), spec.get("words"), "words"),
        counselor_words=f.words(path + ("counselor_words",), spec.get("counselor_words"), "counselor_words"),
        repeat_words=f.words(path + ("repeat_words",), spec.get("repeat_words"), "repeat_words"),
        name=(f.text(path + ("name",), spec["name"], "name") or "") if "name" in spec else "",
        crisis_words=f.words(path + ("crisis_words",), spec.get("crisis_words"), "crisis_words"),
        callback_promise=_promise(f, path, spec))


def _promise(f: Fields, path: tuple, spec: dict) -> str:
    """Read callback_promise: when a message is returned, in the language's words."""
    if spec.get("callback_promise") is None:
        return ""
    return (f.text(path + ("callback_promise",), spec["callback_promise"], "callback_promise") or "").strip()
