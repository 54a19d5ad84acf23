"""The line's Twilio number: where it should send calls, where it does, and pointing it at the line.

A typo in the number's configuration is a silent, total outage, so `ivr twilio setup` writes it
from IVR_PUBLIC_URL and `ivr twilio doctor` compares the live configuration with it.
"""
from __future__ import annotations

from dataclasses import dataclass

from ivr.config import LineError
from ivr.twilio_api import Account, TwilioFailed, failures

# What each of the number's voice settings is called in Twilio's console.
LABELS = {
    "voice_url": "A call comes in (voice URL)", "voice_method": "A call comes in: method",
    "voice_fallback_url": "Primary handler fails (fallback URL)",
    "voice_fallback_method": "Primary handler fails: method",
    "status_callback": "Call status changes (status URL)", "status_callback_method": "Call status changes: method",
}
ROUTES = {"voice_url": "/voice", "voice_fallback_url": "/fallback", "status_callback": "/status"}
METHODS = {"voice_url": "voice_method", "voice_fallback_url": "voice_fallback_method",
           "status_callback": "status_callback_method"}


@dataclass(frozen=True)
class Change:
    """One setting of the number as it is, and as the line needs it."""

    name: str
    now: str | None
    wanted: str

    @property
    def label(self) -> str:
        return LABELS[self.name]


def wanted(public_url: str) -> dict:
    """The number's voice settings the line needs: its three routes, all POST."""
    base = public_url.rstrip("/")
    settings = {name: base + route for name, route in ROUTES.items()}
    settings.update({method: "POST" for method in METHODS.values()})
    return settings


def find(account: Account):
    """The line's number in the account, as Twilio has it configured."""
    if account.off:
        raise LineError(account.off)
    if not account.number:
        raise LineError("the line has no number of its own: set line.number in call_flows.yaml "
                         "(or IVR_LINE_NUMBER), like +18564437701")
    with failures(f"list the account's number {account.number}"):
        found = account.client.incoming_phone_numbers.list(phone_number=account.number, limit=2)
    found = [number for number in found if number.phone_number == account.number]
    if not found:
        raise LineError(f"{account.number} is not a number of Twilio account {account.sid}; check "
                         "line.number (or IVR_LINE_NUMBER) and TWILIO_ACCOUNT_SID")
    return found[0]


def changes(number, settings: dict) -> list[Change]:
    """The settings that differ from what the line needs."""
    return [Change(name, getattr(number, name) or None, value) for name, value in settings.items()
            if (getattr(number, name) or "") != value]


def apply(number, settings: dict):
    """Write the settings to the number at Twilio; the number as Twilio now has it."""
    with failures(f"update the number {number.phone_number}"):
        return number.update(**settings)


def overridden(number) -> list[str]:
    """A TwiML app or SIP trunk on the number: Twilio then ignores its voice URLs altogether."""
    # Twilio's API description gives no way to unset either (an empty SID is not allowed),
    # so setup leaves them alone and says where to change it.
    found = []
    if number.voice_application_sid:
        found.append(f"calls go to TwiML app {number.voice_application_sid}, which overrides the voice URL, "
                     "so the line never hears them; in the console, set the number's Voice configuration "
                     "to 'Webhook' instead")
    if number.trunk_sid:
        found.append(f"calls go to SIP trunk {number.trunk_sid}, which overrides the voice URL; remove the "
                     "number from the trunk in the console")
    return found


def problems(number, settings: dict) -> list[str]:
    """What is wrong with the number's live configuration, one line each, said for staff."""
    found = overridden(number)
    for name, method in METHODS.items():
        label, now, want = LABELS[name], getattr(number, name) or "", settings[name]
        if not now:
            what = ("no fallback URL: when the line fails, callers hear Twilio's error message"
                    if name == "voice_fallback_url" else f"{label} is not set")
            found.append(f"{what}; the line expects {want}")
            continue
        if now.startswith("http://"):
            found.append(f"{label} is {now}: http, not https, so calls' details travel unencrypted; "
                         f"the line expects {want}")
        elif now != want:
            found.append(f"{label} is {now}; the line expects {want}")
        if (getattr(number, method) or "POST").upper() != "POST":
            found.append(f"{label} is requested with {getattr(number, method)}; the line expects POST")
    return found


__all__ = ["Change", "TwilioFailed", "apply", "changes", "find", "problems", "wanted"]
