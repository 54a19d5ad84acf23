"""`ivr doctor`: everything that matters for this deployment, one line each, with the fix.

Each check reads the environment and files the way the server does and gives back Findings:
ok, warning (works, but look) or problem (the line will not start, or will lose something).
Nothing here changes the deployment, except one scratch row written to the store and deleted.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ivr.config import BASE_URL, DEFAULTS, PRODUCTION_NEEDS

LEVELS = ("ok", "warning", "problem")
SHORT_SECRET = 16  # characters: shorter keys for the callers' HMAC are guessable


@dataclass(frozen=True)
class Finding:
    """One thing looked at: its level (ok, warning, problem), what was found, and the fix."""

    level: str
    subject: str
    detail: str
    fix: str = ""

    def __str__(self) -> str:
        fix = f" Fix: {self.fix.rstrip('.')}." if self.fix and self.level != "ok" else ""
        return f"{self.level:<8} {self.subject}: {self.detail.rstrip('.')}.{fix}"


def examine(env: dict | None = None) -> list[Finding]:
    """Every check, in the order an operator would fix things."""
    env = dict(os.environ if env is None else env)
    setting = {name: env.get(name) or default for name, default in DEFAULTS.items()}
    flow, findings = _flow(setting["IVR_CALL_FLOWS"])
    findings += _store(setting["DATABASE_URL"])
    findings += _settings(setting, env)
    findings.append(_staff(env, setting))
    findings += [_zones(flow), _clock(setting), _workers(env), _recordings(flow), _twilio(env, setting)]
    return findings


def _flow(path: str) -> tuple:
    """The call-flow file, checked as the server checks it at start and on every edit."""
    from ivr.flow import check_flow
    flow, problems = check_flow(path)
    errors = [p for p in problems if p.is_error]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return None, [Finding("problem", "call flow", f"the line will not start on it: {str(errors[0]).rstrip('.')}{more}",
                              f"run `ivr check {path}` and fix what it lists")]
    shown = f"{path}: version {flow.version}, {len(flow.menus)} menus, languages {', '.join(flow.languages)}"
    if problems:
        return flow, [Finding("warning", "call flow", f"{shown}; {counted(len(problems), 'warning')}: {problems[0]}",
                              f"run `ivr check {path}` to see them")]
    return flow, [Finding("ok", "call flow", shown)]


def _store(url: str) -> list[Finding]:
    """DATABASE_URL as the server reads it, reached, and a scratch row written and deleted."""
    from ivr import db
    try:
        used = db.store_url(url)
    except db.StoreError as exc:
        return [Finding("problem", "store", str(exc), "set DATABASE_URL to a SQLite or PostgreSQL URL")]
    shown = db.shown_url(used)
    try:
        engine = db.connect(used)
    except Exception as exc:
        return [Finding("problem", "store", f"{shown} cannot be reached ({db.reason(exc)}); calls would be "
                        "answered but no message kept",
                        "start the database, or point DATABASE_URL at one that runs")]
    try:
        db.scratch_write(engine)
    except Exception as exc:
        return [Finding("problem", "store", f"{shown} is reachable but takes no writes ({db.reason(exc)})",
                        "give the database user the right to write, and check the disk has room")]
    finally:
        engine.dispose()
    kind = "SQLite: one machine only" if used.startswith("sqlite") else "PostgreSQL"
    return [Finding("ok", "store", f"{shown} reachable and writable ({kind})")]


def _settings(setting: dict, env: dict) -> list[Finding]:
    """The settings that go together with IVR_ENV: secrets, the public URL, staff access."""
    mode = setting["IVR_ENV"]
    if mode not in ("development", "production"):
        return [Finding("problem", "IVR_ENV", f"'{mode}' is neither development nor production; the line will "
                        "not start", "set IVR_ENV=production (or development on a laptop)")]
    production = mode == "production"
    found = [Finding("ok", "IVR_ENV", mode + ("" if production else ": fine on a laptop, never for a real number"))]
    missing = [name for name in PRODUCTION_NEEDS if not env.get(name)]
    if production and missing:
        found.append(Finding("problem", "secrets", f"{', '.join(missing)} not set; production will not start",
                             "set them (see the settings table in docs/operating.md)"))
    elif not env.get("TWILIO_AUTH_TOKEN"):
        found.append(Finding("warning", "signatures", "TWILIO_AUTH_TOKEN is not set: the webhooks accept unsigned "
                             "requests from anyone", "set TWILIO_AUTH_TOKEN and IVR_PUBLIC_URL before a real number "
                             "points here"))
    else:
        found.append(Finding("ok", "signatures", "every webhook must carry a valid X-Twilio-Signature"))
    key = env.get("IVR_SECRET_KEY") or ""
    if key and len(key) < SHORT_SECRET:
        found.append(Finding("warning", "IVR_SECRET_KEY", f"only {len(key)} characters: caller keys could be guessed",
                             "use a long random key, e.g. `python3 -c 'import secrets; print(secrets.token_hex(32))'`"))
    found.append(_public_url(env.get("IVR_PUBLIC_URL"), production))
    return found


def _public_url(url: str | None, production: bool) -> Finding:
    """IVR_PUBLIC_URL: the base URL Twilio signs; https for a real number."""
    if not url:
        level = "problem" if production else "ok"
        return Finding(level, "IVR_PUBLIC_URL", "not set" + ("" if production else " (only needed with a token)"),
                       "set it to the https:// base URL the Twilio number is configured with")
    if not BASE_URL.fullmatch(url):
        return Finding("problem", "IVR_PUBLIC_URL", f"'{url}' is not a base URL; the line will not start",
                       "write it like https://ivr.example.org")
    if not url.startswith("https://"):
        return Finding("problem" if production else "warning", "IVR_PUBLIC_URL",
                       f"{url} is not https: callers' steps would cross the internet unencrypted",
                       "put the line behind TLS and use its https:// address")
    return Finding("ok", "IVR_PUBLIC_URL", url)


def _staff(env: dict, setting: dict) -> Finding:
    """Who can open the staff pages (callbacks, browser phone, metrics): the accounts in the store."""
    from ivr import accounts, db
    shared = env.get("IVR_STAFF_PASSWORD")
    try:
        engine = db.connect(setting["DATABASE_URL"])
        try:
            count = accounts.count(engine)
        finally:
            engine.dispose()
    except Exception:
        return Finding("warning", "staff access", "unknown while the store cannot be read (see above)")
    if count:
        if shared:
            return Finding("warning", "staff access", f"{counted(count, 'account')}; IVR_STAFF_PASSWORD is ignored "
                           "while accounts exist", "unset IVR_STAFF_PASSWORD")
        return Finding("ok", "staff access", f"{counted(count, 'account')}: every staff page asks for a sign-in")
    if shared:
        return Finding("warning", "staff access", "no account yet: IVR_STAFF_PASSWORD becomes the account "
                       "'staff' at start", "give each person an account (`ivr staff add NAME`), then "
                       "`ivr staff remove staff` and unset IVR_STAFF_PASSWORD")
    if setting["IVR_ENV"] == "production":
        return Finding("warning", "staff access", "no account: the staff pages are locked for everyone",
                       "add one with `ivr staff add NAME`")
    return Finding("ok", "staff access", "no account: the staff pages answer only on loopback (development); "
                   "`ivr staff add NAME` makes one")


def _zones(flow) -> Finding:
    """Time zone data: without it business hours cannot be decided."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    name = str(flow.hours.tz) if flow is not None and flow.hours is not None else "America/New_York"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        return Finding("problem", "time zones", f"no data for {name} ({exc})",
                       "reinstall the line (`make install` brings the tzdata package) or install the system's tzdata")
    try:
        from importlib.metadata import version
        source = f"tzdata {version('tzdata')}"
    except Exception:
        source = "the system's zone files"
    return Finding("ok", "time zones", f"{name} found ({source})")


def _clock(setting: dict) -> Finding:
    """The machine's clock: business hours, the log and the records all follow it."""
    now = datetime.now(timezone.utc)
    newest = max((p.stat().st_mtime for p in Path(__file__).parent.glob("*.py")), default=0)
    if now.timestamp() < newest - 86400:
        return Finding("problem", "clock", f"it says {now:%Y-%m-%d %H:%M} UTC, before this code was written",
                       "set the machine's time (NTP, e.g. systemd-timesyncd or chrony)")
    if setting["IVR_NOW"]:
        level = "problem" if setting["IVR_ENV"] == "production" else "warning"
        return Finding(level, "clock", f"IVR_NOW fixes the line's time at {setting['IVR_NOW']}: business hours "
                       "follow it, not the real time", "unset IVR_NOW outside previews and tests")
    return Finding("ok", "clock", f"{now:%Y-%m-%d %H:%M} UTC")


def _workers(env: dict) -> Finding:
    """How many gunicorn workers and threads gunicorn.conf.py will start (IVR_WORKERS, IVR_THREADS)."""
    try:
        workers = int(env.get("IVR_WORKERS") or (os.cpu_count() or 1) * 2 + 1)
        threads = int(env.get("IVR_THREADS") or 4)
    except ValueError:
        return Finding("problem", "gunicorn", "IVR_WORKERS or IVR_THREADS is not a whole number",
                       "set them to whole numbers, or unset them for the defaults")
    shown = f"{counted(workers, 'worker')} x {counted(threads, 'thread')}, from gunicorn.conf.py (IVR_WORKERS, IVR_THREADS)"
    if workers < 1 or threads < 1:
        return Finding("problem", "gunicorn", shown, "set IVR_WORKERS and IVR_THREADS to 1 or more")
    if workers == 1:
        return Finding("warning", "gunicorn", shown + ": while the one worker restarts, nobody answers",
                       "run at least 2 workers")
    return Finding("ok", "gunicorn", shown)


def _recordings(flow) -> Finding:
    """Whether callers can leave messages (voicemail ends a ring chain), kept as recordings at Twilio."""
    if flow is None:
        return Finding("warning", "recordings", "unknown until the call-flow file checks clean")
    if any(group.then == "voicemail" for group in flow.groups.values()):
        return Finding("ok", "recordings", f"on: callers nobody answers leave a message (up to "
                       f"{flow.record_seconds} s), kept at Twilio until deleted there")
    return Finding("ok", "recordings", "off: no ring group ends in voicemail")


def _twilio(env: dict, setting: dict) -> Finding:
    """The Twilio REST API features (recordings deleted with purge, call-backs, number setup)."""
    sid = env.get("TWILIO_ACCOUNT_SID")
    key, secret = env.get("TWILIO_API_KEY"), env.get("TWILIO_API_SECRET")
    if bool(key) != bool(secret):
        return Finding("problem", "Twilio REST API", "only one of TWILIO_API_KEY and TWILIO_API_SECRET is set",
                       "set both, or neither (the auth token is used then)")
    if not sid:
        return Finding("ok", "Twilio REST API", "off (TWILIO_ACCOUNT_SID is not set): purge keeps the callback "
                       "requests whose recordings it cannot delete at Twilio, messages do not play on the "
                       "callback page, and no call is placed through the API")
    if not (key or env.get("TWILIO_AUTH_TOKEN")):
        return Finding("problem", "Twilio REST API", "TWILIO_ACCOUNT_SID is set but no credentials",
                       "set TWILIO_AUTH_TOKEN, or TWILIO_API_KEY and TWILIO_API_SECRET")
    api = env.get("TWILIO_API_URL")
    if api and not api.startswith("https://") and setting["IVR_ENV"] == "production":
        return Finding("problem", "Twilio REST API", f"TWILIO_API_URL {api} is not https; production refuses it",
                       "unset TWILIO_API_URL (it is for tests and staging)")
    how = "an API key" if key else "the auth token"
    return Finding("ok", "Twilio REST API", f"on, account {sid[:6]}..., with {how}"
                   + (f", at {api}" if api else ""))


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 warning', '2 warnings' ('1 audit entry', '2 audit entries' with the plural given)."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"
