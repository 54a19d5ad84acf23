"""Staff sessions: sign in at /staff/login, out at /staff/logout, a signed cookie in between.

The cookie carries a random token signed with a key derived from IVR_SECRET_KEY (itsdangerous,
Flask's own signer); the store keeps only the token's SHA-256 with the account and when it
was last used. A session ends on sign-out, after IDLE without use, and when its account is
removed or its password changed (their rows go with it), on every worker and replica at once.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from flask import (Blueprint, Response, current_app, g, redirect, render_template_string, request,
                   url_for)
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Column, DateTime, String, Table, delete, insert, select, update

from ivr import accounts, audit, db, lockout, parts

log = logging.getLogger("ivr.sessions")
COOKIE = "ivr_staff"
IDLE = timedelta(hours=10)  # a working day without a click ends the session
TOUCH = timedelta(minutes=1)  # last use is written at most this often

sessions = Table(
    "staff_sessions", db.metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("account", String(64), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

bp = Blueprint("sessions", __name__, url_prefix="/staff")


@bp.after_request
def _headers(response: Response) -> Response:
    from ivr.security import staff_headers
    return staff_headers(response)


@bp.errorhandler(Exception)
def _store_down(exc):
    """The store cannot be reached: say so rather than fail."""
    if getattr(exc, "code", None):
        return exc
    log.exception("could not sign in or out")
    return _page(503, {"Retry-After": "30"}, problem="Signing in is not possible right now: the database "
                 "is unreachable. Try again in a minute.")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _signer() -> URLSafeSerializer:
    """The cookie's signer, keyed from IVR_SECRET_KEY (never the key itself)."""
    key = hmac.new(current_app.config["IVR_SECRET_KEY"].encode(), b"staff session cookie", hashlib.sha256)
    return URLSafeSerializer(key.hexdigest(), salt="ivr staff session")


def start(engine, name: str) -> str:
    """Open a session for an account; return the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = db.utcnow()
    with engine.begin() as conn:
        conn.execute(delete(sessions).where(sessions.c.seen_at < now - IDLE))  # ended by idling, never used again
        conn.execute(insert(sessions).values(token_hash=_hash(token), account=name, created_at=now, seen_at=now))
    return token


def end_all(conn, name: str) -> None:
    """End every session of an account (inside the caller's transaction)."""
    conn.execute(delete(sessions).where(sessions.c.account == name))


def _token() -> str | None:
    """The session token of this request's cookie, if its signature is ours."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        token = _signer().loads(raw)
    except BadSignature:
        return None
    return token if isinstance(token, str) else None


def signed_in(engine) -> str | None:
    """The account this request's session belongs to, or None (no, forged, ended or idle session)."""
    token = _token()
    if token is None:
        return None
    key, now = _hash(token), db.utcnow()
    query = (select(sessions.c.account, sessions.c.seen_at)
             .join(accounts.accounts, accounts.accounts.c.name == sessions.c.account)
             .where(sessions.c.token_hash == key))
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    seen = db.as_utc(row.seen_at)
    if now - seen > IDLE:
        with engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.token_hash == key))
        return None
    if now - seen > TOUCH:
        with engine.begin() as conn:
            conn.execute(update(sessions).where(sessions.c.token_hash == key).values(seen_at=now))
    return row.account


def _cookie(response: Response, token: str | None) -> Response:
    """Set (or clear) the session cookie: HttpOnly, SameSite=Lax, Secure behind https."""
    secure = (current_app.config["IVR_PUBLIC_URL"] or "").startswith("https://") or request.is_secure
    if token is None:
        response.delete_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="Lax")
    else:  # no Max-Age: the browser forgets it when closed; the store ends it after IDLE
        response.set_cookie(COOKIE, _signer().dumps(token), path="/", secure=secure, httponly=True,
                            samesite="Lax")
    return response


# -- the pages -------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in - Recovery Helpline staff</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 24rem; line-height: 1.4; }
label, input, button { display: block; font-size: 1rem; margin: .3rem 0; width: 100%; }
.problem { padding: .5rem .8rem; background: #fdecea; border: 1px solid #d99; }
.note { padding: .5rem .8rem; background: #eef6ee; border: 1px solid #9c9; }
</style></head>
<body>
<h1>Recovery Helpline staff</h1>
{% if problem %}<p class="problem" role="alert">{{ problem }}</p>{% endif %}
{% if note %}<p class="note" role="status">{{ note }}</p>{% endif %}
<form method="post" action="{{ url_for('sessions.login') }}">
<input type="hidden" name="next" value="{{ next }}">
<label for="username">Name</label>
<input id="username" name="username" autocomplete="username" required value="{{ name }}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p>No account yet? Ask whoever runs the line: <code>ivr staff add YOUR-NAME</code>.</p>
</body></html>
"""


def _page(status: int = 200, headers: dict | None = None, **values) -> Response:
    """The sign-in page."""
    values = {"problem": "", "note": "", "name": "", "next": _next(), **values}
    return Response(render_template_string(PAGE, **values), status, headers or {}, mimetype="text/html")


def _next() -> str:
    """Where to go after signing in: a path on this line only (never another site)."""
    target = request.values.get("next", "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target or len(target) > 500:
        return url_for("staff.callbacks")
    return target


@bp.get("/login")
def login_page():
    """Sign in."""
    note = "You are signed out." if request.args.get("out") else ""
    return _page(note=note)


@bp.post("/login")
def login():
    """Check a name and password; open a session, or say no (429 after too many tries)."""
    from ivr.security import client_address
    name = request.form.get("username", "").strip().lower()[:64]
    password = request.form.get("password", "")
    engine = parts.storage().engine
    where = client_address()
    seconds = lockout.wait(engine, name, where)
    if seconds:
        lockout.refused(name, where, seconds)
        minutes = -(-seconds // 60)  # rounded up: trying again when told must work
        return _page(429, {"Retry-After": str(seconds)}, name=name, problem=(
            f"Too many wrong passwords for this name or from this place. Try again in {minutes} "
            f"minute{'' if minutes == 1 else 's'}, or ask whoever runs the line to check your account."))
    account = accounts.verify(engine, name, password)
    if account is None:
        lockout.failed(engine, name, where)
        lockout.counted("failed", name, where)
        return _page(401, name=name, problem="That name and password do not match an account.")
    lockout.counted("ok", account, where)
    token = start(engine, account)
    g.staff = account
    audit.here("sign in", f"account {account}")
    log.info("staff %r signed in from %s", account, where)
    return _cookie(redirect(_next(), 303), token)


@bp.post("/logout")
def logout():
    """End this browser's session."""
    token = _token()
    if token is not None:
        engine = parts.storage().engine
        who = signed_in(engine)
        with engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.token_hash == _hash(token)))
        if who:
            g.staff = who
            audit.here("sign out", f"account {who}")
    return _cookie(redirect(url_for("sessions.login_page", out=1), 303), None)
