"""No caller number in any log line, access log, event or metric: only the callbacks staff work from."""
import re
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import MetaData, create_engine, select, text

from ivr import create_app, parts
from ivr.phone import Phone, client_post
from ivr.privacy import caller_key, redact
from tests.attack import CALLER, CALLER_FORMS, number_forms_in, signature, twilio_form
from tests.conftest import PUBLIC_URL, TOKEN

# Where the number may be, and why: staff call the caller back from it.
ALLOWED = {("callbacks", "caller")}


def test_every_form_of_the_number_is_redacted():
    for form in CALLER_FORMS:
        assert redact(f"x {form} y") == "x [number] y", form
    sid = "CA0123456789abcdef5551234567abcd"
    assert redact(f"call {sid} at 2026-12-01 10:00:00,123 took 12.5 ms") == \
        f"call {sid} at 2026-12-01 10:00:00,123 took 12.5 ms"


def test_the_caller_key_is_keyed_and_stable():
    mine = caller_key("secret-a", CALLER)
    assert mine == caller_key("secret-a", "(555) 123-4567") == caller_key("secret-a", "15551234567")
    assert mine != caller_key("secret-b", CALLER)
    assert "5551234567" not in mine and caller_key("secret-a", "") is None


def test_apps_with_different_secret_keys_store_different_caller_keys(settings, tmp_path):
    keys = []
    for secret in ("replica-secret-one", "replica-secret-two"):
        url = f"sqlite:///{tmp_path / secret}.db"
        app = create_app({**settings, "DATABASE_URL": url, "IVR_SECRET_KEY": secret})
        call = Phone(client_post(app.test_client()), caller=CALLER)
        call.dial_in()
        parts.storage(app).sink.flush()
        with create_engine(url).connect() as conn:
            keys.append(conn.execute(text("SELECT caller_key FROM calls")).scalar_one())
    assert keys[0] != keys[1]
    assert keys == [caller_key("replica-secret-one", CALLER), caller_key("replica-secret-two", CALLER)]


def _raw(server, method: str, path: str, form: dict | None = None, headers: dict | None = None):
    """A request that Twilio did not make (a scanner, an attacker, a misconfigured proxy)."""
    data = urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(server.base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _voicemail(call):
    call.dial_in()
    call.press("0")
    call.ring_ends("no-answer")
    call.ring_ends("busy")
    call.stay_silent()
    call.leave_message(25)
    call.press("9")
    call.hang_up(90)


def _rows(url: str) -> dict:
    """Every table's rows, as {table: [row as dict]}: tables added later are searched too."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {name: [dict(r._mapping) for r in conn.execute(select(table))]
                for name, table in meta.tables.items()}


def _wait_for_events(url: str, sids: list, deadline: float = 15.0) -> None:
    """Events are written in batches off the request path: wait until each call has some."""
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        seen = {e["call_sid"] for e in _rows(url).get("events", [])}
        if set(sids) <= seen:
            return
        time.sleep(0.2)


@pytest.mark.slow
def test_calls_through_gunicorn_leave_the_number_only_in_callbacks(serve, tmp_path):
    server = serve({"TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL}, workers=2)
    url = server.env["DATABASE_URL"]
    calls = [server.phone(auth_token=TOKEN, caller=CALLER) for _ in range(4)]

    _voicemail(calls[0])                                      # a message for a callback
    calls[1].dial_in()                                        # a screened counselor takes the call
    calls[1].press("1")
    calls[1].say("I need to talk to someone")
    calls[1].ring_ends("completed", counselor_keys="1")
    calls[1].hang_up(300)
    engine = create_engine(url)                               # the store fails a write mid-call
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE callbacks RENAME TO callbacks_away"))
    _voicemail(calls[2])
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE callbacks_away RENAME TO callbacks"))
    calls[3].dial_in()                                        # a wrong key, silence, put through
    calls[3].press("#")
    calls[3].stay_silent()
    calls[3].hang_up(20)

    form = twilio_form()                                      # requests Twilio did not make
    assert _raw(server, "POST", "/voice", form)[0] == 403
    assert _raw(server, "POST", "/voice?From=%2B15551234567&Caller=(555)%20123-4567", form)[0] == 403
    tampered = signature(PUBLIC_URL + "/status", form)
    assert _raw(server, "POST", "/status", {**form, "CallDuration": "1"},
                {"X-Twilio-Signature": tampered})[0] == 403
    assert _raw(server, "POST", "/voice/%2B15551234567", form)[0] == 404
    assert _raw(server, "GET", "/voice?From=5551234567")[0] == 405
    for rule in server_get_routes():
        status, body = _raw(server, "GET", rule)
        assert status == 200 and number_forms_in(body) == [], rule  # /healthz, /metrics...

    _wait_for_events(url, [c.call_sid for c in calls])
    server.stop()
    logs = {p.name: p.read_text() for p in tmp_path.rglob("*.log")}
    assert logs and "store unavailable: could not store the callback request of CallSid" in "".join(logs.values())
    assert "refused an unsigned or wrongly signed request" in "".join(logs.values())
    assert '"POST /voice/[number]" 404' in "".join(logs.values())  # a scanner's path, redacted
    for name, log in logs.items():
        assert number_forms_in(log) == [], f"{name} carries the caller's number"

    rows = _rows(url)
    found = {(table, column) for table, records in rows.items() for record in records
             for column, value in record.items() if number_forms_in(str(value))}
    assert found == ALLOWED  # and the callbacks do carry it: the search can see it
    assert [r["caller"] for r in rows["callbacks"]] == [CALLER]  # the failed write was not retried
    assert {e["call_sid"] for e in rows["events"]} >= {c.call_sid for c in calls}
    assert {c["caller_key"] for c in rows["calls"]} == {caller_key("test-secret", CALLER)}
    assert {c["call_sid"] for c in rows["calls"]} == {c.call_sid for c in calls}


def server_get_routes() -> list:
    """GET routes with no arguments that are not staff pages (health, metrics), from the url_map."""
    from tests.conftest import ROOT
    app = create_app({"DATABASE_URL": "sqlite://", "IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml")})
    return sorted(r.rule for r in app.url_map.iter_rules()
                  if "GET" in r.methods and not r.arguments and not r.rule.startswith(("/staff", "/simulator"))
                  and r.rule not in ("/fallback",))


@given(st.text(st.sampled_from("0123456789+%2Bb()-. aZ\n"), max_size=40))
def test_the_quick_first_character_check_changes_no_redaction(text):
    from ivr.privacy import NUMBER
    lookahead = "(?=[+%(0-9])"
    assert NUMBER.pattern.startswith(lookahead)
    assert redact(text) == re.compile(NUMBER.pattern[len(lookahead):]).sub("[number]", text)
