"""The counselor's leg of a ring: the whisper Twilio fetches for the counselor, and the key pressed."""
from __future__ import annotations

from urllib.parse import urljoin

from ivr.phone.player import Heard
from ivr.phone.transport import Transport, sid


def answer(transport: Transport, dial, doc: str, keys: str | None) -> tuple[list[Heard], bool]:
    """A counselor picks up the first number of a Dial: the whisper heard, and whether they took
    the call (keys None: they say nothing; "": the phone's own voicemail answers)."""
    number = next(iter(dial.findall("Number")), None)
    if number is None or not number.get("url"):
        return [], keys is not None  # unscreened: whoever picks up is put through
    leg = {"CallSid": sid("CA"), "ParentCallSid": transport.call_sid, "Direction": "outbound-dial",
           "From": transport.called, "To": (number.text or "").strip(), "CallStatus": "in-progress"}
    url = urljoin(doc, number.get("url"))
    heard = []
    for verb in transport.request(url, leg, number.get("method", "POST")):
        if verb.tag == "Gather":
            heard += [Heard("whisper", (s.text or "").strip(), s.get("language", ""), doc=url)
                      for s in verb if s.tag == "Say"]
            if keys:
                action = urljoin(url, verb.get("action") or url)
                bridged = transport.request(action, {**leg, "Digits": keys}, verb.get("method", "POST"))
                return heard, len(bridged) == 0  # an empty Response bridges the call
        elif verb.tag == "Hangup":
            break
    return heard, False
