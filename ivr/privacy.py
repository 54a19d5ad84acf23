"""Stand-ins for caller numbers: a keyed HMAC, so logs and events never carry the number."""
from __future__ import annotations

import hashlib
import hmac
import re


def caller_key(secret: str, number: str | None) -> str | None:
    """Return a keyed HMAC of a phone number (digits only), or None when there is none."""
    digits = re.sub(r"\D", "", number or "")
    if not digits:
        return None
    return hmac.new(secret.encode(), digits[-10:].encode(), hashlib.sha256).hexdigest()[:20]
