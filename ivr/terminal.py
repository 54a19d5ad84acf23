"""`ivr call`: a phone in the terminal for staff, through the line's real routes in process.

Everything shown comes from the TwiML the routes answer, played by ivr.phone.Phone the way
Twilio plays it, so what staff see is exactly what a caller would get.

A scripted call (`--keys`) is a comma-separated list; each token answers what the line is
waiting for at that moment:

- at a menu: a key (0-9, * or #; several keys are pressed one after another), `silence`
  (or an empty token) to say nothing, `hangup`, or any other words, which the caller says;
- while counselors' phones ring: `answer` (a counselor answers and presses 1), `decline`
  (a counselor answers and does not take the call), `voicemail` (a phone's own voicemail
  answers), `noanswer` or `busy`; or their first letters a, d, v, n, b;
- while a message is recorded: `message` (the caller speaks a message) or `silence`; or m, s.
  At the voicemail notice, `message` waits for the tone and speaks the message.
"""
from __future__ import annotations

import logging
import tempfile
import textwrap
from contextlib import contextmanager
from pathlib import Path

import click

from ivr import parts
from ivr.config import LineError
from ivr.flow import KEYS
from ivr.phone import Heard, Phone, client_post
from ivr.phone.transcript import TERMINAL, Transcript

RING = {"a": "answer", "d": "decline", "v": "voicemail", "n": "noanswer", "b": "busy"}
RECORD = {"m": "message", "s": "silence"}
ASK = {
    "gather": "your turn: press a key (0-9, *, #) or say something; Enter alone is silence",
    "dial": "ringing: a = a counselor answers and presses 1, d = a counselor declines, "
            "v = a phone's voicemail answers, n = no answer, b = busy",
    "record": "recording: m = speak a message, s = say nothing",
}


class ScriptError(LineError):
    """A scripted token that does not fit what the call is waiting for."""


class Terminal:
    """One call into an app, shown line by line on the terminal."""

    def __init__(self, app, lang: str | None = None, echo=click.echo):
        self.app, self.echo = app, echo
        self.left_message = False
        self.transcript = Transcript(parts.flow(app), TERMINAL)
        voice_path = "/voice" + (f"?l={lang}" if lang else "")
        self.phone = Phone(client_post(app.test_client()), base=app.config["IVR_PUBLIC_URL"] or "http://127.0.0.1",
                           auth_token=app.config["TWILIO_AUTH_TOKEN"], voice_path=voice_path)

    @property
    def waiting(self) -> str | None:
        """What the call waits for: gather, dial, record, or None once it has ended."""
        return self.phone.waiting

    def start(self) -> None:
        """Dial in and show the greeting."""
        self.show(self.phone.dial_in())

    def act(self, token: str) -> None:
        """Do what one token says, given what the call is waiting for."""
        token = token.strip()
        word = token.lower()
        if word == "hangup":
            self.phone.hang_up()
            self.echo(self.transcript.did("hang_up"))
            return
        if self.waiting == "gather":
            self._at_menu(token, word)
        elif self.waiting == "dial":
            self._ringing(RING.get(word, word))
        elif self.waiting == "record":
            self._recording(RECORD.get(word, word))

    def _at_menu(self, token: str, word: str) -> None:
        """Press keys, say words, or stay silent at a menu."""
        if word in ("", "silence"):
            self.echo(self.transcript.did("silence"))
            self.show(self.phone.stay_silent())
        elif word == "message" and self.phone.after_silence == "Record":
            # The voicemail notice waits for a key first; a caller with a message waits for the tone.
            self.echo(self.transcript.did("tone"))
            self.show(self.phone.stay_silent())
            if self.waiting == "record":
                self._recording("message")
        elif all(ch in KEYS for ch in token):
            for key in token:
                if self.waiting != "gather":
                    break
                self.echo(self.transcript.did("press", keys=key))
                self.show(self.phone.press(key))
        else:
            self.echo(self.transcript.did("say", words=token))
            self.show(self.phone.say(token))

    def _ringing(self, outcome: str) -> None:
        """Finish a ring the way staff chose."""
        keys = {"answer": "1", "decline": "2", "voicemail": ""}
        if outcome in keys:
            self.echo(self.transcript.did(outcome))
            self.write(self.phone.counselor_answers(keys[outcome]))
            if outcome != "voicemail":
                self.echo(self.transcript.did("presses", keys=keys[outcome]))
            self.show(self.phone.ring_ends("completed"))
        elif outcome in ("noanswer", "busy"):
            self.echo(self.transcript.did("no_answer" if outcome == "noanswer" else "busy"))
            self.show(self.phone.ring_ends("no-answer" if outcome == "noanswer" else "busy"))
        else:
            raise ScriptError(f"'{outcome}' is not a ring outcome; use answer, decline, voicemail, "
                              "noanswer or busy (a, d, v, n, b)")

    def _recording(self, outcome: str) -> None:
        """Speak a message into the recording, or nothing."""
        if outcome == "message":
            self.left_message = True
            self.echo(self.transcript.did("message"))
            self.show(self.phone.leave_message(15))
        elif outcome == "silence":
            self.echo(self.transcript.did("silence"))
            self.show(self.phone.record_nothing())
        else:
            raise ScriptError(f"'{outcome}' is not a way to answer the recording; use message or "
                              "silence (m, s)")

    # -- showing what the caller hears ---------------------------------------------------------
    def show(self, heard: list[Heard]) -> None:
        """Print what the caller heard, then what the line waits for."""
        self.write(heard)
        if self.waiting:
            self.echo(f"  > {ASK[self.waiting]}")
        else:
            self.echo("-- the call has ended --")

    def write(self, heard: list[Heard]) -> None:
        """Print a line for each thing heard; words spoken under their language, wrapped."""
        for line in self.transcript.lines(heard):
            text = _wrapped(f"[{line.lang}] ", line.text) if line.kind in ("say", "play") else line.text
            if text:  # a Say with no words is heard as nothing
                self.echo(text)


def _wrapped(lead: str, text: str, width: int = 100) -> str:
    """Text wrapped to the terminal, each paragraph's lines under the first one's words."""
    indent = " " * len(lead)
    paragraphs = [p for p in text.splitlines() if p.strip()] or [""]
    lines = [textwrap.fill(p, width, initial_indent=lead if i == 0 else indent, subsequent_indent=indent)
             for i, p in enumerate(paragraphs)]
    return "\n".join(lines)


def run(app, lang: str | None, script: str | None, echo=click.echo, read=None) -> Terminal:
    """Play one call: the scripted tokens, or what staff type, until it ends; the call played."""
    terminal = Terminal(app, lang, echo)
    terminal.start()
    if script is not None:
        tokens = script.split(",")
        while tokens and terminal.waiting:
            terminal.act(tokens.pop(0))
        if terminal.waiting:
            echo(f"-- end of the script; the call was waiting ({terminal.waiting}); you hang up --")
            terminal.phone.hang_up()
        return terminal
    read = read or (lambda: click.prompt("", default="", show_default=False, prompt_suffix="> "))
    while terminal.waiting:
        try:
            token = read()
        except (click.Abort, EOFError):
            echo("\n" + terminal.transcript.did("hang_up"))
            terminal.phone.hang_up()
            return terminal
        try:
            terminal.act(token)
        except ScriptError as exc:
            echo(f"  {exc}")
    return terminal


@contextmanager
def quiet_app(settings: dict):
    """The line's app for a terminal call: its own SQLite unless DATABASE_URL is set, logs quiet."""
    from ivr import create_app
    logger = logging.getLogger("ivr")
    saved = (logger.level, list(logger.handlers))
    logger.handlers, logger.level = [logging.NullHandler()], logging.WARNING
    folder = None if settings.get("DATABASE_URL") else tempfile.TemporaryDirectory(prefix="ivr-call-")
    try:
        if folder is not None:
            settings = {**settings, "DATABASE_URL": f"sqlite:///{Path(folder.name) / 'call.db'}"}
        app = create_app(settings)
        try:
            yield app
        finally:  # write the call's events before a temporary database goes away
            parts.storage(app).close()
    finally:
        logger.level, logger.handlers = saved
        if folder is not None:
            folder.cleanup()
