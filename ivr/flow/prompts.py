"""The prompt files: prompts/<language>/<name>.txt (the words) and .wav/.mp3 (a recording of them)."""
from __future__ import annotations

import os
from pathlib import Path

from ivr.fields import Fields
from ivr.flow.schema import AUDIO_SUFFIXES, CALENDAR, PLACEHOLDERS, SAY_LIMIT, WANTED
from ivr.problem import did_you_mean


def read_prompts(f: Fields, folder: Path, menus: dict, messages: dict, languages: dict) -> tuple[dict, dict]:
    """Read every prompt file the flow uses, in every language: (language, name) -> text, and -> recording."""
    uses = _uses(f, menus, messages)
    prompts, audio = {}, {}
    for code in languages:
        here = folder / "prompts" / code
        # One listing per folder instead of a look per prompt and suffix: big flows load fast.
        listed = _lowered_names(here)
        for prompt, where in uses.items():
            text = _text(f, here, code, prompt, where)
            if text is not None:
                prompts[(code, prompt)] = text
            recording = _recording(f, here, code, prompt, where, listed)
            if recording:
                audio[(code, prompt)] = recording
        offer = here / "language_offer.txt"
        if len(languages) > 1 and offer.is_file():
            prompts[(code, "language_offer")] = offer.read_text("utf-8").strip()
    _check_promises(f, prompts, languages)
    _check_placeholders(f, prompts, messages, languages, uses)
    _check_wanted(f, prompts, messages, languages, uses)
    _check_recordings(f, folder, languages, set(uses) | {"language_offer"})
    return prompts, audio


def _uses(f: Fields, menus: dict, messages: dict) -> dict:
    """Every prompt name the flow uses -> the path of its first use (None: no line of the file)."""
    uses: dict = {}
    for name, menu in menus.items():
        for field_name in ("intro", "say"):
            for prompt in getattr(menu, field_name):
                uses.setdefault(prompt, ("menus", name, field_name))
    for purpose, prompt in messages.items():
        # The line's own messages need no entry in the file: no line to point at then.
        uses.setdefault(prompt, ("messages", purpose) if f.has(("messages", purpose)) else None)
    return uses


def _text(f: Fields, folder: Path, code: str, prompt: str, where: tuple | None) -> str | None:
    """Read one prompt file, reporting a missing, empty or over-long one."""
    file = os.path.join(folder, f"{prompt}.txt")
    shown = f"prompts/{code}/{prompt}.txt"
    try:
        with open(file, encoding="utf-8") as opened:
            text = opened.read().strip()
    except FileNotFoundError:
        f.error(where, f"prompt '{prompt}' has no file {shown}; create it with the words to say"
                f"{did_you_mean(prompt, [p.stem for p in folder.glob('*.txt')])}.")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        f.error(where, f"{shown} cannot be read as UTF-8 text ({exc}); save it as UTF-8.")
        return None
    if not text:
        f.error(where, f"{shown} is empty; write the words to say.")
        return None
    if len(text) > SAY_LIMIT:
        f.error(where, f"{shown} has {len(text)} characters; Twilio's Polly voices say at most "
                f"{SAY_LIMIT} in one go. Split it into two prompts.")
        return None
    return text


def _recording(f: Fields, folder: Path, code: str, prompt: str, where: tuple | None,
               listed: set | None = None) -> str | None:
    """The file name of a prompt's recording, if there is a usable one (`listed`: the folder's names)."""
    for suffix in AUDIO_SUFFIXES:
        if listed is not None and f"{prompt}{suffix}".lower() not in listed:
            continue  # not in the folder: no need to ask the disk
        file = folder / f"{prompt}{suffix}"
        if file.is_file():
            if file.stat().st_size == 0:
                f.error(where, f"prompts/{code}/{file.name} is empty; record it again, or "
                        "remove it to use text-to-speech.")
                return None
            return file.name
    return None


def _check_promises(f: Fields, prompts: dict, languages: dict) -> None:
    """A prompt that says {callback_promise} needs the language's callback_promise."""
    for code, lang in languages.items():
        promised = sorted(name for (c, name), text in prompts.items() if c == code and "{callback_promise}" in text)
        if promised and not lang.callback_promise:
            f.error(("line", "languages", code), f"prompts/{code}/{promised[0]}.txt says {{callback_promise}}, "
                    f"but language '{code}' has no callback_promise; add a line like  callback_promise: "
                    "\"within one working day\" (when messages are really returned).")


def _check_placeholders(f: Fields, prompts: dict, messages: dict, languages: dict, uses: dict) -> None:
    """A message must keep the placeholders the line fills in."""
    for purpose, holes in PLACEHOLDERS.items():
        for code in languages:
            text = prompts.get((code, messages[purpose]), "")
            for hole in holes:
                if text and hole not in text:
                    f.error(uses.get(messages[purpose]), f"prompts/{code}/{messages[purpose]}.txt must contain "
                            f"{hole} where the line fills it in; put it back.")


def _check_wanted(f: Fields, prompts: dict, messages: dict, languages: dict, uses: dict) -> None:
    """Warn when a line of several languages drops the placeholder that names the caller's."""
    first = next(iter(languages))  # the whisper is spoken in the line's first language
    for purpose, holes in WANTED.items() if len(languages) > 1 else ():
        text = prompts.get((first, messages[purpose]), "")
        for hole in holes:
            if text and hole not in text:
                f.warn(uses.get(messages[purpose]), f"prompts/{first}/{messages[purpose]}.txt has no "
                       f"{hole}: counselors will not hear which language a caller chose. Put it back "
                       f"where the line should say it (\"..., in Spanish.\").")


def _check_recordings(f: Fields, folder: Path, languages: dict, used: set) -> None:
    """Warn about recordings that no prompt of the flow plays (a misspelt name, say)."""
    for code in languages:
        for suffix in AUDIO_SUFFIXES:
            for file in sorted((folder / "prompts" / code).glob(f"*{suffix}")):
                if file.stem not in used:
                    f.warn(None, f"prompts/{code}/{file.name} is never played: no prompt is "
                           f"called '{file.stem}'{did_you_mean(file.stem, used)}. Rename it to "
                           "the prompt it records.")


def read_calendar(f: Fields, folder: Path, languages: dict) -> dict:
    """Read the day and month names each language has a file for: (language, kind) -> names."""
    found = {}
    for code in languages:
        for kind, (count, which) in CALENDAR.items():
            if not (folder / "prompts" / code / f"{kind}.txt").is_file():
                continue  # said in ivr.hours' own names: a prompts folder from before these files
            text = _text(f, folder / "prompts" / code, code, kind, None)
            names = tuple(name.strip() for name in text.split(",")) if text else ()
            if text and (len(names) != count or not all(names)):
                f.error(None, f"prompts/{code}/{kind}.txt lists {len([n for n in names if n])} names; "
                        f"write the {count} {which}, in the language's own words, separated by commas.")
            elif names:
                found[(code, kind)] = names
    return found


def _lowered_names(folder: Path) -> set:
    """The names in a folder, lowercased (so a case-insensitive disk is judged as before)."""
    try:
        return {entry.name.lower() for entry in os.scandir(folder)}
    except OSError:
        return set()
