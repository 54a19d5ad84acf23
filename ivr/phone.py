"""A phone that plays a call the way Twilio does, through the line's real routes.

It posts Twilio's parameters (signed when it knows the auth token), follows Gather,
Redirect, Dial and Record actions, and lets silence fall through to the next verb. The
tests, `ivr call` and the browser phone all use it, so none of them can differ from what
a caller hears.
"""
from __future__ import annotations

import copy
import re
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urljoin, urlsplit

from twilio.request_validator import RequestValidator

# post(url, form, headers) -> (status code, body text)
Post = Callable[[str, dict, dict], tuple]


class CallDropped(AssertionError):
    """The line answered with something Twilio could not follow, or ended the call itself."""


@dataclass
class Heard:
    """One thing that happened on the call, as the caller (or staff watching) would note it."""

    kind: str  # say, play, pause, wait, dial, record, hangup, end
    text: str = ""
    lang: str = ""
    url: str = ""
    numbers: tuple = ()
    screened: bool = False
    extra: dict = field(default_factory=dict)
    doc: str = ""  # the URL of the TwiML document it came from


def sid(prefix: str) -> str:
    """A Twilio-shaped id: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


class Phone:
    """One call into the line, driven step by step."""

    def __init__(self, post: Post, base: str = "http://127.0.0.1", caller: str = "+15551230000",
                 called: str = "+15555550199", auth_token: str | None = None, voice_path: str = "/voice"):
        self.post, self.base, self.auth_token = post, base.rstrip("/"), auth_token
        self.call_sid, self.account = sid("CA"), sid("AC")
        self.caller, self.called = caller, called
        self.voice_path = voice_path
        self.heard: list[Heard] = []
        self.waiting: str | None = None  # "gather", "dial", "record" or None when ended
        self.requests: list[tuple] = []
        self._verbs: list = []
        self._url = self.base + voice_path
        self._pending = None
        self._counselor_took = None  # whether the counselor of the current ring took the call

    # -- what a person does -------------------------------------------------------------------
    def dial_in(self) -> list[Heard]:
        """Place the call: fetch the greeting and play until the line waits for the caller."""
        return self._fetch(self.base + self.voice_path, {"CallStatus": "ringing"})

    def press(self, keys: str) -> list[Heard]:
        """Press keys while the line waits in a Gather."""
        return self._gathered({"Digits": keys})

    def say(self, words: str, confidence: str = "0.9") -> list[Heard]:
        """Say words while the line waits in a Gather."""
        return self._gathered({"SpeechResult": words, "Confidence": confidence})

    def stay_silent(self) -> list[Heard]:
        """Give nothing: Gather times out and Twilio goes on to the next verb."""
        self._need("gather")
        self.heard.append(Heard("wait", "silence"))
        return self._run()

    def ring_ends(self, status: str = "no-answer", counselor_keys: str | None = None,
                  duration: int = 120) -> list[Heard]:
        """Finish the current Dial: nobody answers, busy, or a counselor answers the whisper.

        A screened leg that is declined was still answered, so Twilio reports it `completed`,
        only short (the whisper's length).
        """
        self._need("dial")
        dial = self._pending
        if status == "completed" and counselor_keys is not None:
            self.counselor_answers(counselor_keys)
        if status == "completed" and self._counselor_took is False:
            duration = 12  # the whisper, then the leg hung up: short
        self._counselor_took = None  # each ring is answered afresh
        form = {"DialCallStatus": status, "DialCallSid": sid("CA")}
        if status == "completed":
            form["DialCallDuration"] = str(duration)
        action = dial.get("action")
        if not action:
            return self._run()
        return self._fetch(urljoin(self._url, action), form, method=dial.get("method", "POST"))

    def counselor_answers(self, keys: str = "1") -> list[Heard]:
        """A counselor picks up one screened number: hear the whisper, press keys (or nothing)."""
        self._need("dial")
        self._counselor_took = False
        number = next(iter(self._pending.findall("Number")), None)
        if number is None or not number.get("url"):
            self._counselor_took = keys is not None
            return []
        child = {"CallSid": sid("CA"), "ParentCallSid": self.call_sid, "Direction": "outbound-dial",
                 "From": self.called, "To": (number.text or "").strip(), "CallStatus": "in-progress"}
        url = urljoin(self._url, number.get("url"))
        root = self._request(url, child, number.get("method", "POST"))
        heard = []
        for verb in root:
            if verb.tag == "Gather":
                heard += [Heard("whisper", (s.text or "").strip(), s.get("language", ""), doc=url)
                          for s in verb if s.tag == "Say"]
                if keys:
                    action = urljoin(url, verb.get("action") or url)
                    answer = self._request(action, {**child, "Digits": keys}, verb.get("method", "POST"))
                    self._counselor_took = len(answer) == 0  # an empty Response bridges the call
                    return heard
            elif verb.tag == "Hangup":
                return heard
        self._counselor_took = False
        return heard

    def leave_message(self, seconds: int = 12) -> list[Heard]:
        """Speak a message into Record; Twilio posts the action and the status callback."""
        self._need("record")
        record = self._pending
        rec_sid = sid("RE")
        form = {"RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{self.account}/Recordings/{rec_sid}",
                "RecordingSid": rec_sid, "RecordingDuration": str(seconds), "Digits": "#"}
        callback = record.get("recordingStatusCallback")
        heard = self._fetch(urljoin(self._url, record.get("action") or self._url), form,
                            method=record.get("method", "POST"))
        if callback:
            self._request(urljoin(self.base + "/", callback),
                          {**self._params(), "RecordingStatus": "completed", **form}, "POST")
        return heard

    def record_nothing(self) -> list[Heard]:
        """Say nothing into Record: no action request, Twilio goes on to the next verb."""
        self._need("record")
        return self._run()

    def fall_back(self, failed_url: str | None = None, fallback_path: str = "/fallback",
                  error_code: str = "11200") -> list[Heard]:
        """The line's answer failed: Twilio requests the number's fallback URL with ErrorCode and
        ErrorUrl (the URL that failed; by default the action the call waits to post to)."""
        if failed_url is None:
            failed_url = urljoin(self._url, self._pending.get("action") or self._url) if self.waiting else self._url
        return self._fetch(self.base + fallback_path, {"ErrorCode": error_code, "ErrorUrl": failed_url})

    def hang_up(self, duration: int = 60) -> None:
        """The caller hangs up; Twilio posts the status callback."""
        self.waiting = None
        self._request(self.base + "/status", {"CallStatus": "completed", "CallDuration": str(duration)},
                      "POST")

    # -- carrying a call between requests ------------------------------------------------------
    @property
    def url(self) -> str:
        """The URL of the document the phone is in now."""
        return self._url

    @property
    def pending(self):
        """The verb the call waits on (an ElementTree element), or None."""
        return self._pending if self.waiting else None

    @property
    def after_silence(self) -> str | None:
        """The verb a silent caller reaches next (its tag: Record, Redirect...), or None."""
        return self._verbs[0].tag if self.waiting == "gather" and self._verbs else None

    def position(self) -> dict:
        """Where the call stands, as plain data another process can resume it from."""
        return {"call_sid": self.call_sid, "account": self.account, "url": _path(self._url),
                "waiting": self.waiting,
                "pending": _xml(self._pending) if self.waiting else None,
                "verbs": [_xml(verb) for verb in self._verbs]}

    @classmethod
    def resume(cls, post: Post, position, **kwargs) -> "Phone":
        """A phone at a `position()`; ValueError when the position is not one a phone makes."""
        pending, verbs = _checked(position)
        phone = cls(post, **kwargs)
        phone.call_sid, phone.account = position["call_sid"], position["account"]
        phone._url = phone.base + position["url"]
        phone.waiting = position["waiting"]
        phone._pending, phone._verbs = pending, verbs
        return phone

    # -- reading what happened ----------------------------------------------------------------
    def said(self, since: int = 0) -> str:
        """Everything spoken to the caller from a point on, as one text."""
        return " ".join(h.text for h in self.heard[since:] if h.kind == "say")

    @property
    def last_dial(self) -> Heard | None:
        """The most recent ring."""
        return next((h for h in reversed(self.heard) if h.kind == "dial"), None)

    # -- Twilio's side -------------------------------------------------------------------------
    def _params(self) -> dict:
        """The parameters Twilio sends with every request of this call."""
        return {"CallSid": self.call_sid, "AccountSid": self.account, "From": self.caller,
                "To": self.called, "Caller": self.caller, "Called": self.called,
                "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01",
                "FromCountry": "US", "ToCountry": "US"}

    def _request(self, url: str, extra: dict, method: str = "POST"):
        """Make one signed request and parse the TwiML that comes back."""
        form = {**self._params(), **extra}
        headers = {}
        if self.auth_token:
            headers["X-Twilio-Signature"] = RequestValidator(self.auth_token).compute_signature(url, form)
        self.requests.append((url, form))
        status, body = self.post(url, form, headers)
        if status != 200:
            raise CallDropped(f"{url} answered {status}: Twilio would play an application error")
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise CallDropped(f"{url} answered with TwiML that is not XML: {exc}") from None
        if root.tag != "Response":
            raise CallDropped(f"{url} answered <{root.tag}>, not <Response>")
        return root

    def _fetch(self, url: str, extra: dict, method: str = "POST") -> list[Heard]:
        """Fetch a TwiML document and play it."""
        self._url = url
        self._verbs = list(self._request(url, extra, method))
        return self._run()

    def _gathered(self, given: dict) -> list[Heard]:
        """Post what the caller gave to the waiting Gather's action."""
        self._need("gather")
        gather = self._pending
        action = urljoin(self._url, gather.get("action") or self._url)
        return self._fetch(action, given, method=gather.get("method", "POST"))

    def _need(self, what: str) -> None:
        """Fail clearly when the test asks for something the call is not waiting for."""
        if self.waiting != what:
            raise AssertionError(f"the call is waiting for {self.waiting or 'nothing (it ended)'}, not {what}")

    def _run(self) -> list[Heard]:
        """Play verbs until one waits for the caller or the document ends."""
        start = len(self.heard)
        while self._verbs:
            verb = self._verbs.pop(0)
            if verb.tag in ("Say", "Play", "Pause"):
                self._speak(verb)
            elif verb.tag == "Gather":
                for child in verb:
                    self._speak(child)
                self._pending, self.waiting = verb, "gather"
                return self.heard[start:]
            elif verb.tag == "Redirect":
                return self.heard[start:] + self._fetch(urljoin(self._url, (verb.text or "").strip()), {},
                                                        verb.get("method", "POST"))
            elif verb.tag == "Dial":
                numbers = tuple((n.text or "").strip() for n in verb.findall("Number"))
                screened = any(n.get("url") for n in verb.findall("Number"))
                self.heard.append(Heard("dial", numbers=numbers, screened=screened, doc=self._url,
                                        extra={"timeout": verb.get("timeout"), "action": verb.get("action")}))
                self._pending, self.waiting = verb, "dial"
                return self.heard[start:]
            elif verb.tag == "Record":
                self.heard.append(Heard("record", extra=dict(verb.attrib), doc=self._url))
                self._pending, self.waiting = verb, "record"
                return self.heard[start:]
            elif verb.tag == "Hangup":
                self.heard.append(Heard("hangup", doc=self._url))
                self.waiting = None
                return self.heard[start:]
            else:
                raise CallDropped(f"Twilio does not know the verb <{verb.tag}>")
        # The document ran out: Twilio hangs up on the caller.
        self.heard.append(Heard("end", "the line ran out of instructions and hung up", doc=self._url))
        self.waiting = None
        return self.heard[start:]

    def _speak(self, verb) -> None:
        """Note a Say, Play or Pause."""
        if verb.tag == "Say":
            self.heard.append(Heard("say", (verb.text or "").strip(), verb.get("language", ""), doc=self._url))
        elif verb.tag == "Play":
            self.heard.append(Heard("play", url=(verb.text or "").strip(), doc=self._url))
        elif verb.tag == "Pause":
            self.heard.append(Heard("pause", doc=self._url))


# Limits and shapes of a position handed back by a browser: never trusted beyond this check.
WAITS = {"gather": "Gather", "dial": "Dial", "record": "Record"}
VERBS = {"Say", "Play", "Pause", "Gather", "Redirect", "Dial", "Record", "Hangup", "Number"}
URL_ATTRIBUTES = ("action", "url", "recordingStatusCallback")
MAX_VERB, MAX_VERBS = 20000, 20


def _path(url: str) -> str:
    """The path and query of a URL."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _xml(verb) -> str:
    """One verb as XML text, without the whitespace that followed it."""
    verb = copy.copy(verb)
    verb.tail = None
    return ET.tostring(verb, "unicode")


def _checked(position) -> tuple:
    """Check a position's shape (our ids, root-relative URLs, known TwiML verbs only); return its
    pending verb and remaining verbs, parsed."""
    if not isinstance(position, dict):
        raise ValueError("the call's position is missing")
    ids = (("call_sid", "CA"), ("account", "AC"))
    if any(not re.fullmatch(prefix + "[0-9a-f]{32}", str(position.get(k, ""))) for k, prefix in ids):
        raise ValueError("the call's ids are not ones a phone makes")
    if not _relative(position.get("url")):
        raise ValueError("the call's URL is not a path on this line")
    waiting, pending, verbs = position.get("waiting"), position.get("pending"), position.get("verbs")
    if waiting not in (*WAITS, None) or (waiting is None) != (pending is None):
        raise ValueError("the call is waiting for something a phone does not wait for")
    if not isinstance(verbs, list) or len(verbs) > MAX_VERBS:
        raise ValueError("the call's remaining verbs are not a short list")
    held = _verb(pending) if pending else None
    if held is not None and held.tag != WAITS[waiting]:
        raise ValueError(f"the call waits for {waiting} but holds <{held.tag}>")
    return held, [_verb(text) for text in verbs]


def _verb(text) -> ET.Element:
    """Parse one verb handed back, refusing anything our TwiML would not contain."""
    if not isinstance(text, str) or len(text) > MAX_VERB or "<!" in text or "<?" in text:
        raise ValueError("a verb of the call is not plain TwiML")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"a verb of the call is not XML: {exc}") from None
    for element in root.iter():
        if element.tag not in VERBS:
            raise ValueError(f"<{element.tag}> is not a TwiML verb a phone follows")
        urls = [element.get(a) for a in URL_ATTRIBUTES if element.get(a) is not None]
        if element.tag in ("Redirect", "Play"):
            urls.append((element.text or "").strip())
        if not all(_relative(u) for u in urls):
            raise ValueError(f"<{element.tag}> points outside this line")
    return root


def _relative(url) -> bool:
    """Whether a URL is a path on this line (root-relative, no host, no scheme)."""
    return (isinstance(url, str) and url.startswith("/") and not url.startswith("//")
            and len(url) <= 2000 and "\\" not in url and not any(ord(ch) < 32 for ch in url))


def client_post(client) -> Post:
    """A Post that goes through a Flask test client (in process, the real routes)."""
    def post(url: str, form: dict, headers: dict, environ: dict | None = None):
        parts = urlsplit(url)
        response = client.post(_path(url), data=form, headers=headers, base_url=f"{parts.scheme}://{parts.netloc}",
                               environ_overrides=environ or {})
        return response.status_code, response.get_data(as_text=True)
    return post


def http_post(timeout: float = 15.0) -> Post:
    """A Post over real HTTP, as Twilio makes it (for gunicorn on loopback)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    def post(url: str, form: dict, headers: dict):
        data = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(url, data=data, headers={
            **headers, "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
    return post
