"""Settings from the environment (see the settings table in docs/operating.md), with test overrides."""
from __future__ import annotations

import os
import re
import secrets
from datetime import datetime, timezone

DEFAULTS = {
    "IVR_CALL_FLOWS": "./call_flows.yaml",
    "TWILIO_AUTH_TOKEN": None,
    "IVR_PUBLIC_URL": None,
    "IVR_ENV": "development",
    "IVR_NOW": None,
    "DATABASE_URL": "sqlite:///var/ivr.db",
    "IVR_SECRET_KEY": None,
    "IVR_STAFF_PASSWORD": None,
    # Twilio's REST API (recordings, call-backs, number setup): see ivr/twilio_api.py
    "TWILIO_ACCOUNT_SID": None,
    "TWILIO_API_KEY": None,
    "TWILIO_API_SECRET": None,
    "TWILIO_API_URL": "https://api.twilio.com",
    "TWILIO_API_TIMEOUT": "10",
    "IVR_LINE_NUMBER": None,
}
PRODUCTION_NEEDS = ("TWILIO_AUTH_TOKEN", "IVR_PUBLIC_URL", "IVR_SECRET_KEY")
BASE_URL = re.compile(r"https?://[^/?#\s]+(/[^?#\s]*)?")


class LineError(RuntimeError):
    """Why the line will not start or a staff command cannot go on, said for staff in a few lines.

    A RuntimeError so that gunicorn, which builds the app in its master, prints just
    "Error: <message>" and exits 1 instead of a traceback; the `ivr` commands print it the same way.
    """


class SettingsError(LineError):
    """Settings the line cannot run with; the message says what to set."""


def load_settings(overrides: dict | None = None) -> dict:
    """Read every setting from the environment, then apply overrides (for tests)."""
    settings = {name: os.environ.get(name) or default for name, default in DEFAULTS.items()}
    settings.update(overrides or {})
    if settings["IVR_ENV"] not in ("development", "production"):
        raise SettingsError(f"IVR_ENV is '{settings['IVR_ENV']}'; set it to development or production.")
    if settings["IVR_ENV"] == "production":
        missing = [name for name in PRODUCTION_NEEDS if not settings.get(name)]
        if missing:
            raise SettingsError(
                "IVR_ENV=production needs " + ", ".join(missing) + " set; the line will not start "
                "without them (see the settings table in docs/operating.md).")
    if settings["IVR_PUBLIC_URL"] and not BASE_URL.fullmatch(settings["IVR_PUBLIC_URL"]):
        raise SettingsError(f"IVR_PUBLIC_URL is '{settings['IVR_PUBLIC_URL']}'; write the base URL Twilio "
                            "is configured with, like https://ivr.example.org (signatures are checked against it).")
    check_twilio_api(settings)
    if settings["IVR_NOW"]:
        fixed_now(settings["IVR_NOW"], timezone.utc)  # refuse a bad clock at start, not mid-call
    if not settings["IVR_SECRET_KEY"]:
        settings["IVR_SECRET_KEY"] = secrets.token_hex(32)  # development: random per process
    return settings


def check_twilio_api(settings: dict) -> None:
    """Refuse a REST API address or timeout the line cannot use; production only over https."""
    url = settings["TWILIO_API_URL"]
    if not BASE_URL.fullmatch(url or ""):
        raise SettingsError(f"TWILIO_API_URL is '{url}'; leave it unset (Twilio's own, "
                            "https://api.twilio.com) or write a base URL like https://twilio-stand-in.example.org.")
    if settings["IVR_ENV"] == "production" and not url.startswith("https://"):
        raise SettingsError(f"TWILIO_API_URL is '{url}', which is not https; in production the line "
                            "sends Twilio credentials and callers' numbers only over https. Unset it to use Twilio's own.")
    try:
        seconds = float(settings["TWILIO_API_TIMEOUT"])
    except (TypeError, ValueError):
        seconds = 0
    if not 0 < seconds <= 60:
        raise SettingsError(f"TWILIO_API_TIMEOUT is '{settings['TWILIO_API_TIMEOUT']}'; write the seconds "
                            "the line waits for Twilio's API, more than 0 and at most 60 (default 10).")


def fixed_now(text: str, zone=None, name: str = "IVR_NOW") -> datetime:
    """Read IVR_NOW (or `ivr call --at`): ISO 8601, and a time without a UTC offset is in `zone`.

    One rule for both: without an offset the time is the line's own, in the desk's time zone
    from the call-flow file (create_app and `ivr call` pass it); with no zone to go by, an
    offset is needed.
    """
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise SettingsError(f"{name} is '{text}'; write it like 2026-12-25T03:00 (the line's time "
                            "zone) or 2026-12-25T03:00:00-05:00.") from None
    if when.tzinfo is None:
        if zone is None:
            raise SettingsError(f"{name} '{text}' has no UTC offset; add one, like -05:00.")
        when = when.replace(tzinfo=zone)
    return when
