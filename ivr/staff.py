"""Staff pages: the callback list (voicemails waiting for a call back), and marking one done.

Plain HTML forms, no scripts and nothing from other sites. The list holds callers' numbers
and recordings, which are health information: it sits behind staff accounts
(security.staff_refusal, for every route here), is never cached, and every view, listen and
change is written to the audit trail (ivr.audit) before it happens.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime, tzinfo

from flask import Blueprint, Response, current_app, g, redirect, render_template_string, request, url_for

from ivr import audit, db, parts
from ivr.security import RECORDING, staff_headers, staff_refusal

bp = Blueprint("staff", __name__, url_prefix="/staff")
bp.before_request(staff_refusal)  # one gate for every staff route, present and future
bp.after_request(staff_headers)
log = logging.getLogger("ivr.staff")

STATUS_WORDS = {"new": "New", "called_back": "Called back", "closed": "Closed"}
CALL_WORDS = {"calling": "Calling now", "talked": "Talked", "no_answer": "No answer"}  # a call-back's


# -- shared with `ivr callbacks` --------------------------------------------------------------

def desk_zone(flow) -> tzinfo:
    """The desk's time zone from a flow's hours, or the machine's local zone without one."""
    if flow is not None and flow.hours is not None:
        return flow.hours.tz
    return datetime.now().astimezone().tzinfo


def callback_view(row: dict, zone: tzinfo) -> dict:
    """One callback request as staff read it: desk local time, length, a safe recording link."""
    when = db.as_utc(row["created_at"])
    url = row["recording_url"] or ""
    seconds = row["recording_seconds"]
    return {
        "id": row["id"], "when": when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
        "caller": row["caller"] or "", "lang": row["lang"] or "",
        "path": " > ".join(p for p in (row["path"] or "").split(".") if p),
        "recording": url if RECORDING.fullmatch(url) else "",  # only Twilio's own recording links
        "length": f"{seconds}s" if seconds is not None else "",
        "status": row["status"],
        "status_words": STATUS_WORDS.get(row["status"]) or CALL_WORDS.get(row["status"], row["status"]),
    }


# -- the page ---------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Callbacks - {{ line }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; line-height: 1.4; color: #111; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ccc; vertical-align: top; }
th { background: #f2f2f2; }
.new { font-weight: bold; }
.note { padding: .5rem .8rem; background: #eef6ee; border: 1px solid #9c9; }
.problem { padding: .5rem .8rem; background: #fdecea; border: 1px solid #d99; }
nav a { margin-right: 1rem; }
button { font-size: 1rem; margin: .1rem 0; }
</style>
</head>
<body>
<h1>Callbacks: {{ line }}</h1>
{% if who and who != 'local' %}<form method="post" action="{{ url_for('sessions.logout') }}">
<p>Signed in as {{ who }}. <button type="submit">Sign out</button></p></form>{% endif %}
<p>Voicemail messages that wait for a call back, newest first. Times are the desk's local
time ({{ zone }}). Callers' numbers and recordings are health information: call back from a
helpline phone (callers are told the call comes from the helpline's number), and share them with
nobody outside the team.</p>
<nav aria-label="Show">
  <a href="{{ url_for('staff.callbacks') }}"{% if not shown %} aria-current="page"{% endif %}>All</a>
  {% for code, words in statuses.items() %}
  <a href="{{ url_for('staff.callbacks', status=code) }}"{% if shown == code %} aria-current="page"{% endif %}>{{ words }}</a>
  {% endfor %}
</nav>
{% if done %}<p class="note" role="status">{{ done }}</p>{% endif %}
{% if twilio_off %}<p class="note">Listening and calling back from here are off. {{ twilio_off }}</p>{% endif %}
{% if problem %}<p class="problem" role="alert">{{ problem }}</p>{% endif %}
{% if rows %}
<table>
<caption>{{ rows|length }} callback request{{ '' if rows|length == 1 else 's' }}</caption>
<thead><tr><th scope="col">#</th><th scope="col">When</th><th scope="col">Number</th>
<th scope="col">Language</th><th scope="col">Heard</th><th scope="col">Message</th>
<th scope="col">Length</th><th scope="col">Status</th><th scope="col">Change</th></tr></thead>
<tbody>
{% for row in rows %}
<tr class="{{ row.status }}">
<td>{{ row.id }}</td><td>{{ row.when }}</td>
<td>{% if row.caller and twilio_off %}<a href="tel:{{ row.caller }}">{{ row.caller }}</a>{% else %}{{ row.caller or 'unknown' }}{% endif %}</td>
<td>{{ row.lang }}</td><td>{{ row.path or '-' }}</td>
<td>{% if row.recording and not twilio_off %}<audio controls preload="none" src="{{ url_for('recordings.play', callback_id=row.id) }}" aria-label="Message {{ row.id }}"></audio>{% elif row.recording %}recorded{% else %}-{% endif %}</td>
<td>{{ row.length or '-' }}</td><td>{{ row.status_words }}</td>
<td><form method="post" action="{{ url_for('staff.mark', callback_id=row.id) }}">
<input type="hidden" name="token" value="{{ token(row.id) }}">
{% for code, words in statuses.items() if code != row.status %}
<button type="submit" name="status" value="{{ code }}">Mark #{{ row.id }} {{ words|lower }}</button>
{% endfor %}
</form>
{% if row.caller and not twilio_off %}<form method="post" action="{{ url_for('callback_call.start', callback_id=row.id) }}">
<input type="hidden" name="token" value="{{ token(row.id) }}">
<label>Ring my phone <input name="phone" type="tel" placeholder="+15551234567" size="13" autocomplete="tel"></label>
<button type="submit">Call back #{{ row.id }} now</button>
</form>{% endif %}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% elif not problem %}
<p>No callback requests{% if shown %} marked {{ statuses[shown]|lower }}{% endif %}.</p>
{% endif %}
</body>
</html>
"""


def _page(rows, status: int = 200, zone: tzinfo | None = None, **extra) -> Response:
    """Render the callback page (times in `zone`, the desk's); never cached: it holds health information."""
    flow = parts.flow()
    html = render_template_string(
        PAGE, rows=rows, statuses=STATUS_WORDS, token=form_token, line=flow.name, who=g.get("staff"),
        zone=str(zone or desk_zone(flow)), twilio_off=parts.twilio().off, **extra)
    return Response(html, status, {"Cache-Control": "no-store"}, mimetype="text/html")


@bp.get("/callbacks")
def callbacks():
    """The callback list, newest first, in the desk's local time."""
    shown = request.args.get("status") if request.args.get("status") in STATUS_WORDS else None
    rows = parts.storage().attempt("list callbacks", db.list_callbacks, shown)
    if rows is None:
        return _page([], 503, shown=shown, problem=(
            "The callback list can't be read right now: the database is unreachable. "
            "Check that it is running and that DATABASE_URL points at it, then reload this page."))
    if not audit.written_here("view callbacks", f"{len(rows)} shown" + (f", status {shown}" if shown else "")):
        return _page([], 503, shown=shown, problem=_NOT_AUDITED)
    zone = desk_zone(parts.flow())
    done = request.args.get("done", "")
    done = f"Callback {done} is saved." if done.isdigit() else ""
    calling = request.args.get("calling", "")
    if calling.isdigit():  # a call-back from the helpline has started (ivr.callback_call)
        done = f"Ringing your phone for callback {calling}: answer it, hear which message it is, and press 1."
    return _page([callback_view(row, zone) for row in rows], zone=zone, shown=shown, done=done)


def form_token(callback_id: int) -> str:
    """The token a mark-done form carries: keyed, so another site cannot forge the form."""
    key = current_app.config["IVR_SECRET_KEY"].encode()
    return hmac.new(key, f"callback:{callback_id}".encode(), hashlib.sha256).hexdigest()[:32]


@bp.post("/callbacks/<int:callback_id>")
def mark(callback_id: int):
    """Mark one callback request called back, closed, or new again."""
    # The browser sends the staff password with any form, even one another site made it post;
    # a closed callback is a caller nobody rings back, so only our own page's forms count.
    if not hmac.compare_digest(request.form.get("token", "").encode(), form_token(callback_id).encode()):
        log.warning("refused a callback change without the page's token (callback %d)", callback_id)
        return _page([], 403, problem="This change did not come from the callback page, so it was "
                     "not saved. Reload the list and use its buttons.")
    status = request.form.get("status", "")
    if status not in STATUS_WORDS:
        return _page([], 400, problem=f"'{status}' is not a status; choose "
                     + ", ".join(STATUS_WORDS.values()) + ".")
    if not audit.written_here("status", f"callback {callback_id} marked {status}"):
        return _page([], 503, problem=_NOT_AUDITED)
    found = parts.storage().attempt(
        "mark a callback", db.set_callback_status, callback_id, status)
    if found is None:
        return _page([], 503, problem="The change was not saved: the database is unreachable. "
                     "Go back and try again in a minute.")
    if not found:
        return _page([], 404, problem=f"There is no callback request #{callback_id}; "
                     "it may have been purged. Reload the list.")
    log.info("callback %d marked %s", callback_id, status)
    return redirect(url_for("staff.callbacks", done=callback_id), 303)


_NOT_AUDITED = ("The audit trail can't be written right now (the database is unreachable), so nothing is "
                "shown or changed. Try again in a minute.")


INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Recovery Helpline: staff</title></head>
<body><h1>Recovery Helpline: staff</h1><ul>
{% for rule, doc in links %}<li><a href="{{ rule }}">{{ rule }}</a> {{ doc }}</li>{% endfor %}
</ul></body></html>
"""


@bp.get("/")
def index():
    """The staff pages there are, with links."""
    links = sorted((rule.rule, (current_app.view_functions[rule.endpoint].__doc__ or "").strip())
                   for rule in current_app.url_map.iter_rules()
                   if "GET" in rule.methods and not rule.arguments and rule.rule != "/staff/"
                   and rule.rule.startswith(("/staff", "/simulator")))
    return render_template_string(INDEX, links=links)
