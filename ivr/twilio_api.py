"""Twilio's REST API, through the twilio library's Client: the account, the line's number, errors.

Recordings, call-backs and `ivr twilio` use it. Without credentials the line still answers
calls; only these features are off, and `Account.off` says what to set. TWILIO_API_URL points
the client at a stand-in of Twilio's API (tests, staging); Twilio's own is the default.
"""
from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from ivr.config import LineError

TWILIO = "https://api.twilio.com"
ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
CREDENTIALS = ("TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN (or with TWILIO_API_KEY and "
               "TWILIO_API_SECRET)")
# The library logs every request it sends at INFO; a list of numbers carries the line's number
# in its query. Its own quiet logger: nothing of a call reaches a log from here.
_quiet = logging.getLogger("ivr.twilio_http")
_quiet.setLevel(logging.WARNING)


class TwilioFailed(LineError):
    """Twilio's API refused or did not answer; the message says what happened, for staff."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # Twilio's HTTP status, None when it did not answer


class HttpClient(TwilioHttpClient):
    """The library's HTTP client, sending to TWILIO_API_URL instead of Twilio's own host when set."""

    def __init__(self, base: str, timeout: float):
        super().__init__(timeout=timeout, logger=_quiet)
        self.base = base.rstrip("/")

    def at(self, url: str) -> str:
        """The URL on the configured API host: Twilio's path and query, the stand-in's host."""
        if self.base == TWILIO:
            return url
        parts = urlsplit(url)
        return self.base + parts.path + (f"?{parts.query}" if parts.query else "")

    def request(self, method, url, *args, **kwargs):
        """Send one API request (the library's own way) to the configured host."""
        return super().request(method, self.at(url), *args, **kwargs)

    def stream(self, url: str, auth: tuple, headers: dict) -> requests.Response:
        """GET a media file with the account's credentials, without reading its body yet."""
        # The library reads bodies as text; a recording is binary and is passed on as it comes.
        # requests drops the credentials if Twilio redirects to its media store on another host.
        return self.session.get(self.at(url), auth=auth, headers=headers, stream=True,
                                timeout=self.timeout, allow_redirects=True)


@dataclass(frozen=True)
class Account:
    """The Twilio account the line's REST features use, or why they are off."""

    sid: str = ""
    number: str = ""  # the line's own number, E.164
    off: str = ""  # why the REST features are off ("" when on)
    client: Client | None = None

    @property
    def http(self) -> HttpClient:
        """The client's HTTP client (for media, which the library's resources do not fetch)."""
        return self.client.http_client

    def media(self, path: str, headers: dict) -> requests.Response:
        """GET a file under this account (a recording's audio) with its credentials."""
        url = f"{TWILIO}/2010-04-01/Accounts/{self.sid}/{path}"
        with failures("fetch the recording"):
            return self.http.stream(url, self.client.auth, headers)


def account(settings: dict, flow=None) -> Account:
    """The account from the settings (and the line's number from the flow), or an Account saying what is missing."""
    sid, token = settings.get("TWILIO_ACCOUNT_SID"), settings.get("TWILIO_AUTH_TOKEN")
    key, secret = settings.get("TWILIO_API_KEY"), settings.get("TWILIO_API_SECRET")
    number = settings.get("IVR_LINE_NUMBER") or (flow.number if flow is not None else "")
    if not sid:
        return Account(off=f"Twilio's API is off: set {CREDENTIALS}.")
    if not ACCOUNT_SID.fullmatch(sid):
        return Account(off=f"TWILIO_ACCOUNT_SID is '{sid[:4]}...', which is not an account SID "
                       "(AC and 32 hex digits); copy it from the Twilio console.")
    if bool(key) != bool(secret):
        missing = "TWILIO_API_SECRET" if key else "TWILIO_API_KEY"
        return Account(sid=sid, off=f"Twilio's API is off: an API key needs both TWILIO_API_KEY and "
                       f"TWILIO_API_SECRET; set {missing}.")
    if not (key or token):
        return Account(sid=sid, off=f"Twilio's API is off: set TWILIO_AUTH_TOKEN, or TWILIO_API_KEY "
                       "and TWILIO_API_SECRET, beside TWILIO_ACCOUNT_SID.")
    if number and not E164.fullmatch(number):
        return Account(sid=sid, off=f"The line's number '{number}' is not in E.164 form; write it "
                       "like +18564437701 (IVR_LINE_NUMBER or line.number in call_flows.yaml).")
    http = HttpClient(settings.get("TWILIO_API_URL") or TWILIO, float(settings.get("TWILIO_API_TIMEOUT") or 10))
    # An API key signs in as itself for the account; the auth token as the account.
    client = Client(key, secret, sid, http_client=http, environment={}) if key else \
        Client(sid, token, http_client=http, environment={})
    return Account(sid=sid, number=number, client=client)


@contextmanager
def failures(what: str):
    """Turn Twilio's refusals and silences into TwilioFailed, saying what failed and why."""
    try:
        yield
    except TwilioRestException as exc:
        raise TwilioFailed(f"Twilio refused to {what}: HTTP {exc.status}{_reason(exc)}", exc.status) from None
    except TwilioException as exc:  # a list's page: the library raises this, with the response
        status = getattr(exc.args[1], "status_code", None) if len(exc.args) > 1 else None
        raise TwilioFailed(f"Twilio refused to {what}: HTTP {status}", status) from None
    except requests.Timeout:
        raise TwilioFailed(f"Twilio did not answer in time to {what}; try again in a minute.") from None
    except requests.RequestException as exc:
        raise TwilioFailed(f"Twilio could not be reached to {what} ({type(exc).__name__}); "
                           "check the network and TWILIO_API_URL, then try again.") from None


def _reason(exc: TwilioRestException) -> str:
    """Twilio's own words for a refusal, with its error code, when it gave them."""
    from ivr.privacy import redact
    # Twilio's words can quote a number it refused ("Invalid 'To' Phone Number: +1..."): not shown.
    words = redact(str(getattr(exc, "msg", "") or "")).strip().splitlines()
    code = f" (error {exc.code})" if exc.code else ""
    return f", {words[0][:200]}{code}" if words and words[0] else code


def from_environment(flow=None) -> Account:
    """The account for the command line: the same settings as the line's, from the environment."""
    import os

    from ivr.config import DEFAULTS, check_twilio_api
    names = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_KEY", "TWILIO_API_SECRET",
             "TWILIO_API_URL", "TWILIO_API_TIMEOUT", "IVR_LINE_NUMBER", "IVR_ENV")
    settings = {name: os.environ.get(name) or DEFAULTS[name] for name in names}
    check_twilio_api(settings)  # SettingsError says what to fix
    return account(settings, flow)
