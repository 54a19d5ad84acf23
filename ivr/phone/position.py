"""Where a call stands, as plain data a browser carries between steps, and the check on its way back."""
from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET

from ivr.config import LineError
from ivr.phone.player import WAITS, Player
from ivr.phone.transport import path_of

# Limits and shapes of a position handed back by a browser: never trusted beyond this check.
HOLDS = {wait: tag for tag, wait in WAITS.items()}  # what the call waits for -> the verb it holds
VERBS = {"Say", "Play", "Pause", "Gather", "Redirect", "Dial", "Record", "Hangup", "Number"}
URL_ATTRIBUTES = ("action", "url", "recordingStatusCallback")
MAX_VERB, MAX_VERBS = 20000, 20


class PositionError(LineError):
    """A position handed back that is not one a phone makes; the message says what is wrong."""


def position(call_sid: str, account: str, player: Player) -> dict:
    """Where the call stands, as plain data another process can resume it from."""
    return {"call_sid": call_sid, "account": account, "url": path_of(player.url),
            "waiting": player.waiting,
            "pending": _xml(player.held) if player.waiting else None,
            "verbs": [_xml(verb) for verb in player.verbs]}


def _xml(verb) -> str:
    """One verb as XML text, without the whitespace that followed it."""
    verb = copy.copy(verb)
    verb.tail = None
    return ET.tostring(verb, "unicode")


def checked(position) -> tuple:
    """Check a position's shape (our ids, root-relative URLs, known TwiML verbs only); return its
    pending verb and remaining verbs, parsed."""
    if not isinstance(position, dict):
        raise PositionError("the call's position is missing")
    ids = (("call_sid", "CA"), ("account", "AC"))
    if any(not re.fullmatch(prefix + "[0-9a-f]{32}", str(position.get(k, ""))) for k, prefix in ids):
        raise PositionError("the call's ids are not ones a phone makes")
    if not _relative(position.get("url")):
        raise PositionError("the call's URL is not a path on this line")
    waiting, pending, verbs = position.get("waiting"), position.get("pending"), position.get("verbs")
    if waiting not in (*HOLDS, None) or (waiting is None) != (pending is None):
        raise PositionError("the call is waiting for something a phone does not wait for")
    if not isinstance(verbs, list) or len(verbs) > MAX_VERBS:
        raise PositionError("the call's remaining verbs are not a short list")
    held = _verb(pending) if pending else None
    if held is not None and held.tag != HOLDS[waiting]:
        raise PositionError(f"the call waits for {waiting} but holds <{held.tag}>")
    return held, [_verb(text) for text in verbs]


def _verb(text) -> ET.Element:
    """Parse one verb handed back, refusing anything our TwiML would not contain."""
    if not isinstance(text, str) or len(text) > MAX_VERB or "<!" in text or "<?" in text:
        raise PositionError("a verb of the call is not plain TwiML")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise PositionError(f"a verb of the call is not XML: {exc}") from None
    for element in root.iter():
        if element.tag not in VERBS:
            raise PositionError(f"<{element.tag}> is not a TwiML verb a phone follows")
        urls = [element.get(a) for a in URL_ATTRIBUTES if element.get(a) is not None]
        if element.tag in ("Redirect", "Play"):
            urls.append((element.text or "").strip())
        if not all(_relative(u) for u in urls):
            raise PositionError(f"<{element.tag}> points outside this line")
    return root


def _relative(url) -> bool:
    """Whether a URL is a path on this line (root-relative, no host, no scheme)."""
    return (isinstance(url, str) and url.startswith("/") and not url.startswith("//")
            and len(url) <= 2000 and "\\" not in url and not any(ord(ch) < 32 for ch in url))
