"""Only Twilio gets in: X-Twilio-Signature checked with the twilio library's RequestValidator."""
from __future__ import annotations

import hmac
import logging
from functools import lru_cache, wraps

from flask import Response, current_app, request
from twilio.request_validator import RequestValidator

from ivr.call import clean_sid

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


def twilio_only(view):
    """Refuse (403) a webhook request that Twilio did not sign, when a token is set."""
    @wraps(view)
    def checked(*args, **kwargs):
        if current_app.config["TWILIO_AUTH_TOKEN"] and not is_signed():
            # The path without its query, and the CallSid only if shaped like one: no caller data.
            log.warning("refused an unsigned or wrongly signed request to %s (CallSid %s)",
                        request.path, clean_sid(request.form.get("CallSid")) or "-")
            return Response("Forbidden: this webhook only answers Twilio.\n", 403,
                            mimetype="text/plain")
        return view(*args, **kwargs)
    return checked


def staff_refusal() -> Response | None:
    """In production, a 401 unless the request carries IVR_STAFF_PASSWORD by HTTP Basic."""
    config = current_app.config
    if config["IVR_ENV"] != "production":
        return None
    password = config["IVR_STAFF_PASSWORD"]
    auth = request.authorization
    given = (auth.password or "") if auth and auth.type == "basic" else ""
    # An unset password locks the pages; compare_digest keeps the check constant-time.
    if password and hmac.compare_digest(given.encode(), password.encode()):
        return None
    return Response("Staff only: sign in with the staff password.\n", 401,
                    {"WWW-Authenticate": 'Basic realm="Recovery Helpline staff"'},
                    mimetype="text/plain")


def staff_only(view):
    """In production, staff pages need IVR_STAFF_PASSWORD by HTTP Basic."""
    @wraps(view)
    def checked(*args, **kwargs):
        return staff_refusal() or view(*args, **kwargs)
    return checked
