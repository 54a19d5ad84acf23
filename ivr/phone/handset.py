"""The phone in a person's hand: the gestures of a caller (and of a counselor who picks up)."""
from __future__ import annotations

from urllib.parse import urljoin

from ivr.phone import counselor, position
from ivr.phone.player import Heard, Player
from ivr.phone.transport import Post, Transport, sid


def _through(part: str, name: str, doc: str) -> property:
    """A property that reads and writes one attribute of one of the phone's parts."""
    return property(lambda self: getattr(getattr(self, part), name),
                    lambda self, value: setattr(getattr(self, part), name, value), doc=doc)


class Phone:
    """One call into the line, driven gesture by gesture; each gesture returns what was heard."""

    def __init__(self, post: Post, base: str = "http://127.0.0.1", caller: str = "+15551230000",
                 called: str = "+15555550199", auth_token: str | None = None, voice_path: str = "/voice"):
        self.transport = Transport(post, base, caller, called, auth_token)
        self.player = Player(self.transport, self.transport.base + voice_path)
        self.voice_path = voice_path
        self._took = None  # whether the counselor of the current ring took the call

    # -- what a caller does --------------------------------------------------------------------
    def dial_in(self) -> list[Heard]:
        """Place the call: fetch the greeting and play until the line waits for the caller."""
        return self.player.fetch(self.transport.base + self.voice_path, {"CallStatus": "ringing"})

    def press(self, keys: str) -> list[Heard]:
        """Press keys while the line waits in a Gather."""
        return self._gathered({"Digits": keys})

    def say(self, words: str, confidence: str = "0.9") -> list[Heard]:
        """Say words while the line waits in a Gather."""
        return self._gathered({"SpeechResult": words, "Confidence": confidence})

    def stay_silent(self) -> list[Heard]:
        """Give nothing: Gather times out and Twilio goes on to the next verb."""
        self.player.need("gather")
        self.heard.append(Heard("wait", "silence"))
        return self.player.play()

    def leave_message(self, seconds: int = 12) -> list[Heard]:
        """Speak a message into Record; Twilio posts the action and the status callback."""
        self.player.need("record")
        record = self.player.held
        rec_sid = sid("RE")
        form = {"RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{self.account}/Recordings/{rec_sid}",
                "RecordingSid": rec_sid, "RecordingDuration": str(seconds), "Digits": "#"}
        callback = record.get("recordingStatusCallback")
        heard = self.player.fetch(self.player.action(record), form, method=record.get("method", "POST"))
        if callback:
            self.transport.request(urljoin(self.transport.base + "/", callback),
                              {**self.transport.params(), "RecordingStatus": "completed", **form}, "POST")
        return heard

    def record_nothing(self) -> list[Heard]:
        """Say nothing into Record: no action request, Twilio goes on to the next verb."""
        self.player.need("record")
        return self.player.play()

    def hang_up(self, duration: int = 60) -> None:
        """The caller hangs up; Twilio posts the status callback."""
        self.player.waiting = None
        self.transport.request(self.transport.base + "/status", {"CallStatus": "completed", "CallDuration": str(duration)},
                          "POST")

    # -- what happens while it rings -----------------------------------------------------------
    def counselor_answers(self, keys: str = "1") -> list[Heard]:
        """A counselor picks up one screened number: hear the whisper, press keys (or nothing)."""
        self.player.need("dial")
        heard, self._took = counselor.answer(self.transport, self.player.held, self.player.url, keys)
        return heard

    def ring_ends(self, status: str = "no-answer", counselor_keys: str | None = None,
                  duration: int = 120) -> list[Heard]:
        """Finish the current Dial: nobody answers, busy, or a counselor answers the whisper.

        A screened leg that is declined was still answered, so Twilio reports it `completed`,
        only short (the whisper's length).
        """
        self.player.need("dial")
        dial = self.player.held
        if status == "completed" and counselor_keys is not None:
            self.counselor_answers(counselor_keys)
        if status == "completed" and self._took is False:
            duration = 12  # the whisper, then the leg hung up: short
        self._took = None  # each ring is answered afresh
        form = {"DialCallStatus": status, "DialCallSid": sid("CA")}
        if status == "completed":
            form["DialCallDuration"] = str(duration)
        if not dial.get("action"):
            return self.player.play()
        return self.player.fetch(self.player.action(dial), form, method=dial.get("method", "POST"))

    def fall_back(self, failed_url: str | None = None, fallback_path: str = "/fallback",
                  error_code: str = "11200") -> list[Heard]:
        """The line's answer failed: Twilio requests the number's fallback URL with ErrorCode and
        ErrorUrl (the URL that failed; by default the action the call waits to post to)."""
        if failed_url is None:
            failed_url = self.player.action(self.player.held) if self.waiting else self.player.url
        return self.player.fetch(self.transport.base + fallback_path, {"ErrorCode": error_code, "ErrorUrl": failed_url})

    def _gathered(self, given: dict) -> list[Heard]:
        """Post what the caller gave to the waiting Gather's action."""
        self.player.need("gather")
        gather = self.player.held
        return self.player.fetch(self.player.action(gather), given, method=gather.get("method", "POST"))

    # -- where the call is, for another process to go on from ---------------------------------
    def position(self) -> dict:
        """Where the call stands, as plain data another process can resume it from."""
        return position.position(self.call_sid, self.account, self.player)

    @classmethod
    def resume(cls, post: Post, where, **kwargs) -> "Phone":
        """A phone at a `position()`; PositionError when it is not one a phone makes."""
        held, verbs = position.checked(where)
        phone = cls(post, **kwargs)
        phone.transport.call_sid, phone.transport.account = where["call_sid"], where["account"]
        phone.player.url = phone.transport.base + where["url"]
        phone.player.waiting, phone.player.held, phone.player.verbs = where["waiting"], held, verbs
        return phone

    # -- reading what happened ----------------------------------------------------------------
    def said(self, since: int = 0) -> str:
        """Everything spoken to the caller from a point on, as one text."""
        return " ".join(h.text for h in self.heard[since:] if h.kind == "say")

    @property
    def last_dial(self) -> Heard | None:
        """The most recent ring."""
        return next((h for h in reversed(self.heard) if h.kind == "dial"), None)

    @property
    def after_silence(self) -> str | None:
        """The verb a silent caller reaches next (its tag: Record, Redirect...), or None."""
        return self.player.verbs[0].tag if self.waiting == "gather" and self.player.verbs else None

    # Read (and, for tests and the browser phone, set) through to the part that keeps them.
    heard = _through("player", "heard", "Everything heard on the call so far.")
    waiting = _through("player", "waiting", 'What the call waits for: "gather", "dial", "record", or None once ended.')
    url = _through("player", "url", "The URL of the document the phone is in now.")
    pending = _through("player", "pending", "The verb the call waits on (an ElementTree element), or None.")
    call_sid = _through("transport", "call_sid", "The CallSid Twilio gave this call.")
    account = _through("transport", "account", "The AccountSid its requests carry (a line takes its own only).")
    requests = _through("transport", "requests", "(url, form) of every request Twilio made on this call.")
    caller = _through("transport", "caller", "The number the call comes from.")
    called = _through("transport", "called", "The line's number it rings.")
    base = _through("transport", "base", "The base URL Twilio is set up with (and signs against).")
    post = _through("transport", "post", "How a request reaches the line: (url, form, headers) -> (status, body).")
