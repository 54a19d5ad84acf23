"""What one step of a call came to ("talked", "transfer:asked", "ring:busy"), and what that means.

The engine (ivr.call) gives every reply an Outcome; the webhooks store it in each call's
events and log line; the metrics and `ivr report` ask of it. Every such question is answered
here, so no module matches the text by hand.
"""
from __future__ import annotations

TRANSFER, RING = "transfer:", "ring:"  # as stored: events of years past hold them too


class Outcome(str):
    """An outcome, as the text events store (so stored, logged and compared exactly as before).

    A str rather than an Enum: events read back from the database hold whatever any
    version of the line wrote, and "ring:" carries Twilio's status for the ring.
    """

    __slots__ = ()
    # The outcomes other modules ask about (the rest, like "greeted" or "goodbye", are only kept).
    ASKED, TRIES, AGAIN, CRISIS = (TRANSFER + why for why in ("asked", "tries", "again", "crisis"))
    TALKED = "talked"  # a counselor (or the crisis line) took the call
    VOICEMAIL = "voicemail"  # nobody took the call: the voicemail notice
    RECORDING = "recording"  # the caller is recording a message
    CRISIS_LINE = "crisis_line"  # no counselor took a crisis caller: the crisis line rings
    RANG = "rang"  # a key or word cut the crisis guidance short, and the ring began
    CHOSE, REPEATED = "chose", "repeated"  # a topic's menu, chosen or asked for again
    ACCEPTED = "accepted"  # the counselor pressed 1 after the whisper

    @classmethod
    def transfer(cls, reason: str) -> Outcome:
        """The caller put through to counselors, and why (asked, tries, again, crisis)."""
        return cls(TRANSFER + reason)

    @classmethod
    def ring(cls, status: str) -> Outcome:
        """A ring ended without a counselor taking the call, and leads on (status: Twilio's DialCallStatus)."""
        return cls(RING + status)

    @property
    def is_transfer(self) -> bool:
        """Whether the caller was put through to counselors (for any reason)."""
        return self.startswith(TRANSFER)

    @property
    def reason(self) -> str:
        """Why a transfer happened (asked, tries, again, crisis); '' for any other outcome."""
        return self[len(TRANSFER):] if self.is_transfer else ""

    @property
    def is_crisis(self) -> bool:
        """Whether crisis words were heard: the caller was told what to do now and put through."""
        return self == self.CRISIS

    @property
    def starts_transfer(self) -> bool:
        """Whether a new transfer begins (asked, tries, crisis); a ring `again` goes on with one."""
        return self in (self.ASKED, self.TRIES, self.CRISIS)

    @property
    def is_ringing(self) -> bool:
        """Whether a counselor's phone rings after this step (a transfer, a ring leading on, a cut-short guidance)."""
        return self.is_transfer or self.startswith(RING) or self == self.RANG

    @property
    def awaits_message(self) -> bool:
        """Whether the caller is at voicemail: the notice, or the recording."""
        return self in (self.VOICEMAIL, self.RECORDING)

    @property
    def chose_menu(self) -> bool:
        """Whether the caller heard a topic's menu: chose it, or asked for it again."""
        return self in (self.CHOSE, self.REPEATED)

