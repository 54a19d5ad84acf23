"""Twilio's side of a simulated call: its parameters, signed, posted to the line's real routes."""
from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from typing import Callable
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator

from ivr.config import LineError

# post(url, form, headers) -> (status code, body text)
Post = Callable[[str, dict, dict], tuple]


class CallDropped(LineError):
    """The line answered with something Twilio could not follow, or ended the call itself."""


def sid(prefix: str) -> str:
    """A Twilio-shaped id: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


class Transport:
    """One call's requests as Twilio makes them: its ids, its parameters, signed when a token is known."""

    def __init__(self, post: Post, base: str, caller: str, called: str, auth_token: str | None):
        self.post, self.base, self.auth_token = post, base.rstrip("/"), auth_token
        self.call_sid, self.account = sid("CA"), sid("AC")
        self.caller, self.called = caller, called
        self.requests: list[tuple] = []  # (url, form) of every request, for tests to look back on

    def params(self) -> dict:
        """The parameters Twilio sends with every request of this call."""
        return {"CallSid": self.call_sid, "AccountSid": self.account, "From": self.caller,
                "To": self.called, "Caller": self.caller, "Called": self.called,
                "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01",
                "FromCountry": "US", "ToCountry": "US"}

    def request(self, url: str, extra: dict, method: str = "POST") -> ET.Element:
        """Make one signed request and parse the TwiML that comes back."""
        form = {**self.params(), **extra}
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


def path_of(url: str) -> str:
    """The path and query of a URL."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def client_post(client) -> Post:
    """A Post that goes through a Flask test client (in process, the real routes)."""
    def post(url: str, form: dict, headers: dict, environ: dict | None = None):
        parts = urlsplit(url)
        response = client.post(path_of(url), data=form, headers=headers, base_url=f"{parts.scheme}://{parts.netloc}",
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
