"""Callers' recorded messages at Twilio: whose they are, hearing one through the line, deleting them.

Staff hear a message in the callback page from the line's own route: the line fetches it from
Twilio with the account's credentials and passes it on as it comes (ranges too), writing
nothing to disk, so neither Twilio's credentials nor its links ever reach a browser. Only
recordings of the line's own account are fetched or deleted.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from flask import Blueprint, Response, request

from ivr import audit, db, parts
from ivr.security import staff_headers, staff_refusal
from ivr.twilio_api import Account, TwilioFailed, failures

bp = Blueprint("recordings", __name__, url_prefix="/staff")
bp.before_request(staff_refusal)  # the staff pages' gate
bp.after_request(staff_headers)
log = logging.getLogger("ivr.recordings")

# A RecordingUrl as Twilio sends it (api.twilio.com, or a regional api.<edge>.<region>.twilio.com).
RECORDING_URL = re.compile(r"https://api(?:\.[a-z0-9-]+)*\.twilio\.com/2010-04-01/Accounts/"
                           r"(AC[0-9a-fA-F]{32})/Recordings/(RE[0-9a-fA-F]{32})(?:\.(?:json|wav|mp3))?")
PASSED_ON = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges")
CHUNK = 64 * 1024


def sid_of(url: str | None, account_sid: str) -> str:
    """The RecordingSid of a recording link of this account, else ''."""
    found = RECORDING_URL.fullmatch(url or "")
    return found.group(2) if found and found.group(1) == account_sid else ""


def why_not(url: str | None, account: Account) -> str:
    """Why a callback's recording cannot be fetched or deleted through the API ('' when it can)."""
    if account.off:
        return account.off
    found = RECORDING_URL.fullmatch(url or "")
    if not found:
        return "its recording link is not a Twilio recording URL, so the line cannot reach it"
    if found.group(1) != account.sid:
        return (f"its recording belongs to another Twilio account ({found.group(1)[:8]}...), "
                "not TWILIO_ACCOUNT_SID; the line fetches and deletes only its own")
    return ""


def delete(account: Account, sid: str) -> bool:
    """Delete a recording at Twilio; True if deleted, False if Twilio had lost it already (404).

    Raises TwilioFailed on any other answer (or none), so the caller keeps what points at it.
    """
    try:
        with failures(f"delete recording {sid}"):
            account.client.api.v2010.accounts(account.sid).recordings(sid).delete()
    except TwilioFailed as exc:
        if exc.status == 404:
            return False
        raise
    return True


# -- purge ------------------------------------------------------------------------------------

@dataclass
class Purged:
    """What a purge did, or would do: recordings deleted at Twilio, rows deleted, what remains."""

    deleted: int = 0  # recordings deleted at Twilio
    gone: int = 0  # recordings Twilio no longer had (404): counted as deleted
    kept: list = field(default_factory=list)  # (callback id, why its row stays)
    rows: dict = field(default_factory=dict)  # table -> rows deleted
    listed: list = field(default_factory=list)  # dry run: (callback row, its RecordingSid or '')


def purge(engine, account: Account, days: int, dry_run: bool = False) -> Purged:
    """Delete old recordings at Twilio, then the rows of those that are gone; keep the rest to retry."""
    done = Purged()
    ids = []
    for row in db.expiring_callbacks(engine, days):
        url = row["recording_url"]
        reason = why_not(url, account) if url else ""
        sid = sid_of(url, account.sid) if url and not reason else ""
        if dry_run:
            done.listed.append((row, sid, reason))
        if reason:
            done.kept.append((row["id"], reason))
            continue
        if sid and not dry_run:
            try:
                if delete(account, sid):
                    done.deleted += 1
                else:
                    done.gone += 1
            except TwilioFailed as exc:
                done.kept.append((row["id"], str(exc)))
                continue
        ids.append(row["id"])
    done.rows = db.purge(engine, days, ids, dry_run=dry_run)
    return done


# -- listening --------------------------------------------------------------------------------

@bp.get("/callbacks/<int:callback_id>/recording")
def play(callback_id: int):
    """A callback's recorded message, fetched from Twilio and passed on (ranges too); never stored."""
    # A message that does not exist is a 404 whatever the line's Twilio settings say (not a 503).
    row = parts.storage().attempt("read a callback", db.get_callback, callback_id)
    if row is None:
        return _refusal(404, f"There is no callback request #{callback_id} (or the database is "
                        "unreachable); reload the list.")
    account = parts.twilio()
    if account.off:
        return _refusal(503, f"Listening through the line is off. {account.off}")
    reason = why_not(row["recording_url"], account) if row["recording_url"] else "it has no recorded message"
    if reason:
        return _refusal(404, f"Message #{callback_id} cannot be played: {reason}.")
    sid = sid_of(row["recording_url"], account.sid)
    # The one place a listen is recorded, before the message plays.
    if not audit.written_here("listen", f"callback {callback_id}"):
        return _refusal(503, "The audit trail can't be written right now (the database is unreachable), so "
                        "the message is not played. Try again in a minute.")
    # WAV, as recorded: a whispered message loses least; Chromium and Firefox play it.
    asked = {"Range": request.headers["Range"]} if "Range" in request.headers else {}
    try:
        upstream = account.media(f"Recordings/{sid}.wav", asked)
    except TwilioFailed as exc:
        log.warning("could not fetch the recording of callback %d: %s", callback_id, exc)
        return _refusal(504, f"Message #{callback_id} cannot be played now: {exc}")
    if upstream.status_code not in (200, 206):
        upstream.close()
        return _upstream_refusal(callback_id, upstream.status_code)
    headers = {name: upstream.headers[name] for name in PASSED_ON if name in upstream.headers}
    headers.update({"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                    "Content-Disposition": f'inline; filename="message-{callback_id}.wav"'})
    if not headers.get("Content-Type", "").startswith("audio/"):
        headers["Content-Type"] = "audio/wav"
    return Response(_passed_on(upstream), upstream.status_code, headers, direct_passthrough=True)




def _passed_on(upstream):
    """The recording's bytes as Twilio sends them, in chunks; the connection closed at the end."""
    try:
        yield from upstream.iter_content(CHUNK)
    finally:
        upstream.close()


def _upstream_refusal(callback_id: int, status: int) -> Response:
    """Say why Twilio would not give a recording (no Twilio links, no credentials in it)."""
    log.warning("Twilio answered %d for the recording of callback %d", status, callback_id)
    if status == 404:
        return _refusal(404, f"Twilio no longer has the recording of message #{callback_id}: it was "
                        "deleted there. Mark the callback closed if nobody needs it.")
    if status in (401, 403):
        return _refusal(502, "Twilio refused the line's credentials: check TWILIO_ACCOUNT_SID and "
                        "TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET).")
    if status == 416:
        return _refusal(416, "That part of the recording does not exist; play it from the start.")
    return _refusal(502, f"Twilio could not give the recording of message #{callback_id} (HTTP "
                    f"{status}); try again in a minute.")


def _refusal(status: int, message: str) -> Response:
    """A plain-text answer for staff, never cached."""
    return Response(message + "\n", status, {"Cache-Control": "no-store"}, mimetype="text/plain")
