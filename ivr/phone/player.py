"""The TwiML player: plays the line's answers verb by verb, the way Twilio does."""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin

from ivr.config import LineError
from ivr.phone.transport import CallDropped, Transport

# What the call waits on when a verb stops the playing: what the caller does next answers it.
WAITS = {"Gather": "gather", "Dial": "dial", "Record": "record"}


class NotWaiting(LineError):
    """A gesture the call is not waiting for (a key pressed while it rings, say)."""


@dataclass
class Heard:
    """One thing that happened on the call, as the caller (or staff watching) would note it."""

    kind: str  # say, play, pause, wait, dial, record, hangup, end; whisper (the counselor's leg)
    text: str = ""
    lang: str = ""
    url: str = ""
    numbers: tuple = ()
    screened: bool = False
    extra: dict = field(default_factory=dict)
    doc: str = ""  # the URL of the TwiML document it came from


class Player:
    """Where the call is in the line's TwiML, and everything heard so far."""

    def __init__(self, transport: Transport, url: str):
        self.transport = transport
        self.url = url  # the document being played
        self.verbs: list = []  # its verbs still to play
        self.held = None  # the verb the call last stopped on (an ElementTree element)
        self.waiting: str | None = None  # "gather", "dial", "record" or None when ended
        self.heard: list[Heard] = []

    @property
    def pending(self):
        """The verb the call waits on, or None."""
        return self.held if self.waiting else None

    def need(self, what: str) -> None:
        """Refuse a gesture the call is not waiting for, saying what it waits for."""
        if self.waiting != what:
            raise NotWaiting(f"the call is waiting for {self.waiting or 'nothing (it ended)'}, not {what}")

    def action(self, verb) -> str:
        """The absolute URL a verb's action posts to (its own document when it names none)."""
        return urljoin(self.url, verb.get("action") or self.url)

    def fetch(self, url: str, extra: dict, method: str = "POST") -> list[Heard]:
        """Fetch a TwiML document and play it."""
        self.url = url
        self.verbs = list(self.transport.request(url, extra, method))
        return self.play()

    def play(self) -> list[Heard]:
        """Play verbs until one waits for the caller or the document ends."""
        start = len(self.heard)
        while self.verbs:
            verb = self.verbs.pop(0)
            if verb.tag in ("Say", "Play", "Pause"):
                self._speak(verb)
            elif verb.tag == "Redirect":
                return self.heard[start:] + self.fetch(urljoin(self.url, (verb.text or "").strip()), {},
                                                       verb.get("method", "POST"))
            elif verb.tag in WAITS or verb.tag == "Hangup":
                self._stop(verb)
                return self.heard[start:]
            else:
                raise CallDropped(f"Twilio does not know the verb <{verb.tag}>")
        # The document ran out: Twilio hangs up on the caller.
        self.heard.append(Heard("end", "the line ran out of instructions and hung up", doc=self.url))
        self.waiting = None
        return self.heard[start:]

    def _stop(self, verb) -> None:
        """Stop on a verb that waits for the caller (its prompts heard first), or on a Hangup."""
        if verb.tag == "Gather":
            for child in verb:
                self._speak(child)
        elif verb.tag == "Dial":
            numbers = verb.findall("Number")
            self.heard.append(Heard("dial", numbers=tuple((n.text or "").strip() for n in numbers),
                                    screened=any(n.get("url") for n in numbers), doc=self.url,
                                    extra={"timeout": verb.get("timeout"), "action": verb.get("action")}))
        elif verb.tag == "Record":
            self.heard.append(Heard("record", extra=dict(verb.attrib), doc=self.url))
        else:
            self.heard.append(Heard("hangup", doc=self.url))
            self.waiting = None
            return
        self.held, self.waiting = verb, WAITS[verb.tag]

    def _speak(self, verb) -> None:
        """Note a Say, Play or Pause."""
        if verb.tag == "Say":
            self.heard.append(Heard("say", (verb.text or "").strip(), verb.get("language", ""), doc=self.url))
        elif verb.tag == "Play":
            self.heard.append(Heard("play", url=(verb.text or "").strip(), doc=self.url))
        elif verb.tag == "Pause":
            self.heard.append(Heard("pause", doc=self.url))
