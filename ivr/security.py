"""Only Twilio gets in: X-Twilio-Signature checked with the twilio library's RequestValidator."""
from __future__ import annotations

import hmac
import io
import ipaddress
import logging
import re
from functools import lru_cache, wraps

from flask import Response, current_app, g, request
from twilio.request_validator import RequestValidator

from ivr import parts

log = logging.getLogger("ivr.security")


def requested_url() -> str:
    """The URL Twilio requested: IVR_PUBLIC_URL (or this host) joined with the raw path and query."""
    base = current_app.config["IVR_PUBLIC_URL"] or request.host_url
    # The raw request target, byte for byte: Twilio signs the URL exactly as it asked for it,
    # and request.url would re-encode the query (%2b -> %2B, + -> %20) and break the check.
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        query = request.query_string.decode("latin-1")
        raw = request.path + (f"?{query}" if query else "")
    return base.rstrip("/") + raw


@lru_cache(maxsize=8)
def _validator(token: str) -> RequestValidator:
    """One RequestValidator per auth token, made once."""
    return RequestValidator(token)


def signed(token: str, url: str, params, signature: str) -> bool:
    """Whether Twilio signed this request: the URL as requested first, then validate()'s port variants.

    Twilio signs the URL exactly as it is configured, so the first, single signature almost
    always decides; RequestValidator.validate (which computes two) is the fallback.
    """
    validator = _validator(token)
    if hmac.compare_digest(validator.compute_signature(url, params).encode(), signature.encode()):
        return True
    return validator.validate(url, params, signature)


def is_signed() -> bool:
    """Whether this request carries a valid X-Twilio-Signature for the URL Twilio requested."""
    signature = request.headers.get("X-Twilio-Signature", "")
    params = request.form if request.method == "POST" else {}  # ivr.form.Values: has getall
    return bool(signature) and signed(current_app.config["TWILIO_AUTH_TOKEN"], requested_url(), params,
                                      signature)


# Twilio's signature joins names and values with nothing between them, so a signed request can
# be re-cut: a field folded into its neighbour's value, or a URL's tail moved into a parameter
# with an empty or odd name. Twilio's own names are letters and digits (SipHeader_X-Name too),
# and some fields come with every call request in a fixed shape: a re-cut request loses them.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,127}")
CALL_SID = re.compile(r"CA[0-9a-f]{32}")
ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")
DIRECTIONS = frozenset(("inbound", "outbound-api", "outbound-dial", "trunking-originating",
                        "trunking-terminating"))
# Twilio's recording status callback carries the call's ids but not its direction or numbers.
WITHOUT_CALL_FIELDS = frozenset(("voice.recording",))


def not_twilio_shaped() -> str | None:
    """Why this webhook's form is not one Twilio sends (None when it is), checked before the signature."""
    if request.method != "POST":
        return None  # a GET is signed by its URL alone, which Twilio built
    form = request.form
    for name in form:
        if not NAME.fullmatch(name):
            return "a parameter name Twilio never sends"
    if not ACCOUNT_SID.fullmatch(form.get("AccountSid", "")):
        return "no AccountSid of Twilio's shape"
    own = current_app.config.get("TWILIO_ACCOUNT_SID")
    if own and form.get("AccountSid") != own:
        return "another account's AccountSid"
    if not CALL_SID.fullmatch(form.get("CallSid", "")):
        return "no CallSid of Twilio's shape"
    if request.endpoint in WITHOUT_CALL_FIELDS:
        return None
    if form.get("Direction") not in DIRECTIONS:
        return "no Direction Twilio gives"
    if "From" not in form or "To" not in form:
        return "no From or To"
    return None


def twilio_only(view):
    """Refuse (403) a webhook request that Twilio did not sign, or did not shape, when a token is set."""
    @wraps(view)
    def checked(*args, **kwargs):
        if current_app.config["TWILIO_AUTH_TOKEN"]:
            odd = not_twilio_shaped()
            if odd or not is_signed():
                # The path without its query, and the CallSid only if it is of Twilio's shape: a
                # forged form may put anything there, a phone number too.
                sid = request.form.get("CallSid", "")
                log.warning("refused an unsigned or wrongly signed request to %s (CallSid %s)%s",
                            request.path, sid if CALL_SID.fullmatch(sid) else "-",
                            f": {odd}" if odd else "")
                return Response("Forbidden: this webhook only answers Twilio.\n", 403,
                                mimetype="text/plain")
        return view(*args, **kwargs)
    return checked


RECORDING = re.compile(r"https://api\.twilio\.com/2010-04-01/Accounts/(AC[0-9a-f]{32})/Recordings/RE[0-9a-f]{32}")


def recording_link(url) -> str:
    """A RecordingUrl from Twilio's API host for the line's own account, else ''.

    The line's account is TWILIO_ACCOUNT_SID when set, else the signed request's AccountSid.
    """
    url = str(url or "")
    found = RECORDING.fullmatch(url)
    if not found:
        return ""
    own = current_app.config.get("TWILIO_ACCOUNT_SID") or request.form.get("AccountSid")
    return url if found.group(1) == own else ""


class BodyLimit:
    """WSGI middleware: a chunked body (no Content-Length) is held to the same limit (413 beyond it)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    def __call__(self, environ, start_response):
        if not environ.get("CONTENT_LENGTH") and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = environ["wsgi.input"].read(self.limit + 1)
            if len(body) > self.limit:
                from werkzeug.exceptions import RequestEntityTooLarge
                return RequestEntityTooLarge()(environ, start_response)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


STAFF_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
             "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
             "frame-ancestors 'none'")
STAFF_HEADERS = {"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
                 "Cache-Control": "no-store"}
FORWARDED = ("X-Forwarded-For", "Forwarded", "X-Real-Ip")
LOCAL_STAFF = "local"  # who the audit trail names on a loopback development line with no account


def staff_refusal() -> Response | None:
    """The gate of every staff page and API (a before_request): None lets a signed-in account through.

    Whenever any account exists, whatever IVR_ENV says: a session (sessions.py) or HTTP Basic
    with an account. With no account at all: only a development line bound to loopback, asked
    from loopback and not through a proxy. IVR_STAFF_PASSWORD becomes the account 'staff' when
    there is none (accounts.bootstrap), so a line upgraded from the shared password stays usable.
    """
    from ivr import accounts, sessions
    try:
        engine = parts.storage().engine
        who = sessions.signed_in(engine)
        if who:
            g.staff = who
            return None
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            return _basic(engine, auth.username or "", auth.password or "")
        if not accounts.count(engine) and not accounts.bootstrap(engine, current_app.config["IVR_STAFF_PASSWORD"]):
            if local_development():
                g.staff = LOCAL_STAFF
                return None
            return _challenge("There is no staff account yet, so staff pages answer only on a development "
                              "line bound to this machine. Create one on the server: ivr staff add YOUR-NAME\n")
    except Exception:
        log.exception("could not check who is asking for %s", request.path)
        return Response("Staff pages cannot check who you are right now: the database is unreachable. "
                        "Try again in a minute.\n", 503, {"Retry-After": "30"}, mimetype="text/plain")
    return _challenge()


def _basic(engine, name: str, password: str) -> Response | None:
    """HTTP Basic with an account (for curl): through, 401, or 429 after too many failures."""
    from ivr import accounts, lockout
    where = client_address()
    name = name.strip().lower()[:64]
    seconds = lockout.wait(engine, name, where)
    if seconds:
        lockout.refused(name, where, seconds)
        return Response(f"Too many wrong passwords for this name or from this place; try again in {seconds} s.\n",
                        429, {"Retry-After": str(seconds)}, mimetype="text/plain")
    account = accounts.verify(engine, name, password)
    if account is None:
        lockout.failed(engine, name, where)
        lockout.counted("failed", name, where)
        return _challenge("That name and password do not match a staff account.\n")
    lockout.counted("ok", account, where)
    g.staff = account
    return None


def _challenge(text: str = "Staff only: sign in at /staff/login (or HTTP Basic with your account).\n") -> Response:
    """A browser asking for a page goes to the sign-in page; anything else gets 401 with a Basic challenge."""
    if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
        from flask import redirect, url_for
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("sessions.login_page", next=target), 303)
    return Response(text, 401, {"WWW-Authenticate": 'Basic realm="Recovery Helpline staff"'},
                    mimetype="text/plain")


def local_development() -> bool:
    """A development line bound to loopback, asked from loopback, not through a proxy."""
    return (current_app.config["IVR_ENV"] == "development"
            and _loopback(request.environ.get("SERVER_NAME", "")) and _loopback(request.remote_addr or "")
            and not any(name in request.headers for name in FORWARDED))


def _loopback(host: str) -> bool:
    """Whether a host or address is this machine's loopback."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_address() -> str:
    """Where a staff request came from: the peer, or what the proxy in front of us saw.

    X-Forwarded-For is believed only from a peer on loopback or a private network (our own
    nginx), and only its last entry, the one that proxy added.
    """
    peer = request.remote_addr or "?"
    forwarded = request.headers.get("X-Forwarded-For", "")
    try:
        private = ipaddress.ip_address(peer).is_private
    except ValueError:
        private = False
    if forwarded and private:
        last = forwarded.rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            pass
    return peer


def staff_headers(response: Response) -> Response:
    """Staff pages: never framed, only our own scripts, no referrer, never cached (an after_request)."""
    response.headers.setdefault("Content-Security-Policy", STAFF_CSP)
    for name, value in STAFF_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def staff_only(view):
    """A staff route outside the staff blueprints (/metrics): the same gate and headers."""
    @wraps(view)
    def checked(*args, **kwargs):
        return staff_headers(staff_refusal() or current_app.make_response(view(*args, **kwargs)))
    return checked
