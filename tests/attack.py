"""Helpers for the tests that attack the line: which routes exist, signing, finding numbers."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from twilio.request_validator import RequestValidator

from tests.conftest import PUBLIC_URL, TOKEN

# Routes Twilio does not call: staff pages, the browser phone, metrics, health, recordings.
NOT_WEBHOOKS = ("/staff", "/simulator", "/metrics", "/healthz", "/audio", "/static")
STAFF = ("/staff", "/simulator")
CALLER = "+15551234567"
# The caller's number in every way a log, a URL or a person might write it.
CALLER_FORMS = ("+15551234567", "%2B15551234567", "(555) 123-4567", "555-123-4567", "555.123.4567",
                "5551234567", "15551234567", "1-555-123-4567")


def fill(rule) -> str:
    """A path for a URL rule, with any <argument> filled in with 1."""
    return re.sub(r"<[^>]+>", "1", rule.rule)


def webhook_paths(app) -> list[str]:
    """Every POST route Twilio may call, enumerated now, so routes added later are covered."""
    return sorted(fill(rule) for rule in app.url_map.iter_rules()
                  if "POST" in rule.methods and not rule.rule.startswith(NOT_WEBHOOKS))


SIGN_IN = ("/staff/login", "/staff/logout")  # open to anyone: where staff sign in and out


def staff_rules(app) -> list:
    """Every route under /staff and /simulator but the sign-in ones."""
    return sorted((rule for rule in app.url_map.iter_rules()
                   if rule.rule.startswith(STAFF) and rule.rule not in SIGN_IN), key=lambda rule: rule.rule)


def gated_rules(app) -> list:
    """Every staff-facing route: the staff pages, the browser phone and its API, and /metrics."""
    return staff_rules(app) + [rule for rule in app.url_map.iter_rules() if rule.rule == "/metrics"]


def twilio_form(**extra) -> dict:
    """The parameters Twilio posts with a call's request, from the test caller."""
    return {"CallSid": "CA" + "a1" * 16, "AccountSid": "AC" + "b2" * 16, "From": CALLER,
            "To": "+15555550199", "Caller": CALLER, "CallStatus": "in-progress",
            "Direction": "inbound", "ApiVersion": "2010-04-01", **extra}


def signature(url: str, form: dict, token: str = TOKEN) -> str:
    """X-Twilio-Signature as Twilio computes it for a URL and form."""
    return RequestValidator(token).compute_signature(url, form)


def post_signed(client, path: str, form: dict, url: str | None = None, token: str = TOKEN,
                sent_form: dict | None = None):
    """POST `sent_form` (default `form`) to `path`, signed for `url` (default the public URL)."""
    sig = signature(url or PUBLIC_URL + path, form, token)
    return client.post(path, data=sent_form if sent_form is not None else form,
                       headers={"X-Twilio-Signature": sig})


def twiml(body: str) -> ET.Element:
    """Parse a TwiML answer; fail unless it is XML with a <Response> root."""
    root = ET.fromstring(body)
    assert root.tag == "Response", body[:300]
    return root


def number_forms_in(text: str) -> list[str]:
    """The forms of the test caller's number that occur in a text."""
    return [form for form in CALLER_FORMS if form in text]
