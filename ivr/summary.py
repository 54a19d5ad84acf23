"""What `ivr check` tells staff about a clean flow: its size, its longest prompt, its
recordings, and how soon every caller hears how to reach a counselor.

Pure: the reach is measured by playing the greeting through the engine (ivr.call), so it
follows the same order a caller hears: welcome, language offers, after-hours notice,
safety, menu.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ivr import call
from ivr.flow import Flow, speech_seconds
from ivr.hours import is_open, next_opening


@dataclass(frozen=True)
class Reach:
    """How many keys and seconds a caller needs before hearing how to reach a counselor."""

    lang: str
    when: str  # "in hours" or "after hours"
    keys: int | None  # None: this caller is never told
    seconds: float = 0.0


def moments(flow: Flow, now: datetime | None = None) -> dict:
    """One moment in desk hours and one after hours (either may not exist)."""
    now = now or datetime.now(timezone.utc)
    if flow.hours is None:
        return {"in hours": now}
    found = {}
    opens = next_opening(flow.hours, now)
    if opens is not None:
        found["in hours"] = opens
        found["after hours"] = opens - timedelta(minutes=1)
    elif is_open(flow.hours, now):
        found["in hours"] = now
    else:
        found["after hours"] = now
    return found


def counselor_reach(flow: Flow, now: datetime | None = None) -> list[Reach]:
    """For each language and time of day, the keys and seconds until the counselor key is said."""
    return [_reach(flow, at, code, when) for when, at in moments(flow, now).items()
            for code in flow.languages]


def _reach(flow: Flow, now: datetime, lang: str, when: str) -> Reach:
    """Play the greeting (and the language key, for other languages) until the caller is told."""
    keys, seconds = 0, 0.0
    reply = call.greet(flow, now)
    while keys <= 1:
        switch = False
        for speech in _spoken(reply):
            seconds += speech_seconds(speech.text)
            if speech.lang == lang and tells_counselor(flow, speech):
                return Reach(lang, when, keys, seconds)
            if keys == 0 and speech.prompt == "language_offer" and speech.lang == lang:
                switch = True
                break
        if not switch:
            break
        start = call.CallState(flow.start, flow.default_language, 0, (flow.start,))
        reply = call.answer(flow, start, flow.languages[lang].key, None, now)
        keys += 1
    return Reach(lang, when, None)


def _spoken(reply: call.Reply) -> tuple:
    """Everything a reply says, in order, including what its Gather says."""
    asked = reply.then.speech if isinstance(reply.then, call.Ask) else ()
    return tuple(reply.speech) + tuple(asked)


def tells_counselor(flow: Flow, speech: call.Speech) -> bool:
    """Whether a prompt names the counselor key or the first word that reaches a counselor."""
    said = " " + " ".join(re.findall(r"[\w*#]+", speech.text.lower())) + " "
    # Only the first word: the others ("someone", "help") are common in any sentence.
    words = (flow.counselor_key,) + flow.languages[speech.lang].counselor_words[:1]
    return any(f" {word} " in said for word in words)


def lines(flow: Flow, now: datetime | None = None) -> list[str]:
    """The one-screen summary of a clean flow, line by line."""
    per_lang = len(flow.prompts) // max(len(flow.languages), 1)
    (lang, name), text = max(flow.prompts.items(), key=lambda item: speech_seconds(item[1]))
    out = [
        f"  menus       {len(flow.menus)}, starting at '{flow.start}'",
        f"  prompts     {len(flow.prompts)} ({per_lang} per language)",
        "  languages   " + ", ".join(f"{c} ({lang_.speech}, {lang_.voice})" for c, lang_ in flow.languages.items()),
        f"  longest     prompts/{lang}/{name}.txt: about {speech_seconds(text):.0f} s of speech",
    ]
    out += _reach_lines(counselor_reach(flow, now))
    recorded = [f"{code}/{file}" for (code, _), file in sorted(flow.audio.items())]
    out.append("  recorded    " + (", ".join(recorded) if recorded else
                                  "none: every prompt is spoken by text-to-speech"))
    return out


def _reach_lines(reaches: list[Reach]) -> list[str]:
    """The counselor lines of the summary: the worst case, then each language."""
    told = [r for r in reaches if r.keys is not None]
    out = []
    if told:
        worst = max(told, key=lambda r: (r.keys, r.seconds))
        out.append(f"  counselor   every caller is told how to reach one within {_keys(worst.keys)} "
                   f"and {worst.seconds:.0f} s ({worst.lang}, {worst.when})")
    for code in dict.fromkeys(r.lang for r in reaches):
        mine = [r for r in reaches if r.lang == code]
        out.append(f"              {code}: " + ", ".join(
            f"{_keys(r.keys)} and {r.seconds:.0f} s {r.when}" if r.keys is not None
            else f"NEVER TOLD {r.when}" for r in mine))
    for r in reaches:
        if r.keys is None:
            out.append(f"  warning: callers in '{r.lang}' ({r.when}) never hear the counselor key in the "
                       "greeting; say it in the welcome prompt, like 'press 0, or say counselor'.")
    return out


def _keys(count: int) -> str:
    """'no keypress', '1 keypress', '2 keypresses'."""
    return "no keypress" if count == 0 else f"{count} keypress" + ("es" if count > 1 else "")
