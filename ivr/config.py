"""Settings from the environment (see the README's settings table), with test overrides."""
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
    "TWILIO_ACCOUNT_SID": None,
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
                "without them (see the README's settings table).")
    if settings["IVR_PUBLIC_URL"] and not BASE_URL.fullmatch(settings["IVR_PUBLIC_URL"]):
        raise SettingsError(f"IVR_PUBLIC_URL is '{settings['IVR_PUBLIC_URL']}'; write the base URL Twilio "
                            "is configured with, like https://ivr.example.org (signatures are checked against it).")
    if settings["IVR_NOW"]:
        fixed_now(settings["IVR_NOW"], timezone.utc)  # refuse a bad clock at start, not mid-call
    if not settings["IVR_SECRET_KEY"]:
        settings["IVR_SECRET_KEY"] = secrets.token_hex(32)  # development: random per process
    return settings


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
