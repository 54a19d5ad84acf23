"""The nine holes a hostile test found (issue 12), each attack replayed through gunicorn."""
import json
import re
import time
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from ivr import db
from ivr.phone import sid
from tests.attack import CALLER, number_forms_in, signature, twilio_form
from tests.conftest import PUBLIC_URL, TOKEN, settle
from tests.staffing import PASSWORD, Browser, add_account, engine, message_call, store_url  # noqa: F401

pytestmark = pytest.mark.slow
LINE = {"TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL}
ACCOUNT = "AC" + "c3" * 16


def replay(server, url: str, form: dict, sig: str) -> requests.Response:
    """Send a request for a public URL to the server, as the proxy in front of it would."""
    parts = urlsplit(url)
    return requests.post(server.base + parts.path + (f"?{parts.query}" if parts.query else ""), data=form,
                         headers={"X-Twilio-Signature": sig}, timeout=10)


def captured(call, route: str) -> tuple[str, dict]:
    """The last request the phone (Twilio) made to a route: its URL and form."""
    return next((url, form) for url, form in reversed(call.requests) if urlsplit(url).path == route)


# -- 1. re-cut signed requests ----------------------------------------------------------------

def test_1_a_field_folded_into_its_neighbour_is_refused_not_read_as_blank(serve, engine):
    server = serve(LINE)
    call = message_call(server)
    url, form = captured(call, "/voice/recorded")
    folded = {k: v for k, v in form.items() if k != "From"}
    folded["Direction"] = form["Direction"] + "From" + form["From"]  # Direction=inboundFrom%2B1555...
    assert signature(url, folded) == signature(url, form)  # the attack is real: the signature still fits
    refused = replay(server, url, folded, signature(url, form))
    assert refused.status_code == 403
    (row,) = db.list_callbacks(engine)
    assert row["caller"] == CALLER  # the callback keeps its number
    assert replay(server, url, form, signature(url, form)).status_code == 200  # Twilio's own still works


def test_1_a_signature_for_one_route_never_validates_for_another(serve):
    server = serve(LINE)
    call = server.phone(auth_token=TOKEN, caller=CALLER)
    call.dial_in()
    call.press("0")
    call.ring_ends("no-answer")
    url, form = captured(call, "/voice/dialed")
    tail = url[len(PUBLIC_URL + "/voice"):]  # "/dialed?g=desk&..."
    moved = {"": tail, **form}  # sent as "=%2Fdialed%3F..."
    assert signature(PUBLIC_URL + "/voice", moved) == signature(url, form)  # the attack is real
    assert replay(server, PUBLIC_URL + "/voice", moved, signature(url, form)).status_code == 403
    for odd in ({"%": "x"}, {"a b": "x"}, {"1": ""}, {"From=": "x"}):  # names Twilio never sends
        sent = {**form, **odd}
        assert replay(server, url, sent, RequestValidator(TOKEN).compute_signature(url, sent)).status_code == 403
    server.stop()
    assert server.log_path.read_text().count("a parameter name Twilio never sends") == 5


@pytest.mark.parametrize("change", [
    {"Direction": "sideways"}, {"CallSid": "CA123"}, {"AccountSid": "AC" + "d4" * 16}, {"AccountSid": None},
    {"From": None}, {"To": None}, {"CallSid": None}])
def test_1_fields_twilio_always_sends_must_have_twilios_shapes(serve, change):
    server = serve({**LINE, "TWILIO_ACCOUNT_SID": ACCOUNT}, workers=1)
    form = twilio_form(AccountSid=ACCOUNT)
    url = PUBLIC_URL + "/voice"
    assert replay(server, url, form, signature(url, form)).status_code == 200
    sent = {k: v for k, v in {**form, **change}.items() if v is not None}
    assert replay(server, url, sent, signature(url, sent)).status_code == 403


def test_1_the_lines_own_account_only_when_it_is_configured(serve):
    server = serve({**LINE, "TWILIO_ACCOUNT_SID": ACCOUNT})
    theirs = server.phone(auth_token=TOKEN)  # Twilio-shaped, signed, another account
    with pytest.raises(Exception, match="answered 403"):
        theirs.dial_in()
    ours = server.phone(auth_token=TOKEN)
    ours.account = ACCOUNT
    ours.dial_in()
    assert "Thank you for calling" in ours.said()


# -- 2. staff pages without IVR_ENV --------------------------------------------------------------

def test_2_staff_pages_need_an_account_without_ivr_env(serve):
    server = serve({**LINE, "IVR_STAFF_PASSWORD": "the shared password"})  # no IVR_ENV
    message_call(server)
    for path in ("/staff/callbacks", "/metrics", "/simulator", "/staff/"):
        refused = requests.get(server.base + path, timeout=10)
        assert refused.status_code == 401 and number_forms_in(refused.text) == [], path
    api = requests.post(server.base + "/simulator/api/step", json={"do": "call"}, timeout=10)
    assert api.status_code == 401
    server.stop()
    assert "IVR_STAFF_PASSWORD is now the staff account 'staff'" in server.log_path.read_text()


# -- 3. guessing ---------------------------------------------------------------------------------

def test_3_three_hundred_guesses_then_the_right_password_is_refused(serve, store_url):
    server = serve(LINE)
    add_account(store_url, "maria")
    with requests.Session() as guesser:
        statuses = [guesser.get(server.base + "/staff/callbacks", auth=("maria", f"guess {n}"), timeout=10).status_code
                    for n in range(300)]
        assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
        right = guesser.get(server.base + "/staff/callbacks", auth=("maria", PASSWORD), timeout=10)
    assert right.status_code == 429 and int(right.headers["Retry-After"]) > 800
    assert CALLER not in right.text


# -- 4. numbers in /healthz ----------------------------------------------------------------------

def test_4_healthz_redacts_numbers_in_a_reload_error(serve, flow_dir):
    server = serve({"IVR_CALL_FLOWS": str(flow_dir / "call_flows.yaml")})
    path = flow_dir / "call_flows.yaml"
    text = path.read_text()
    path.write_text(text.replace('"+15555550101"', '"555-555-0177"', 1))
    settle(path)
    deadline = time.monotonic() + 15
    health = server.health()
    while not health["reload_error"] and time.monotonic() < deadline:  # each worker looks every second
        health = server.health()
    errors = json.dumps(health["reload_error"])
    assert "is not a phone number" in errors and "[number]" in errors
    assert "555-555-0177" not in errors and "5555550177" not in errors and "0177" not in errors
    assert "+15555550100" not in json.dumps(health)


# -- 5. control characters in log lines ----------------------------------------------------------

def test_5_control_characters_are_escaped_in_every_log_line(serve):
    server = serve(LINE, workers=1)
    assert requests.get(server.base + "/healthz%0a10.0.0.1 [01/Jan/2026] \"GET /forged\" 200%1b[31m",
                        timeout=10).status_code == 404
    Browser(server.base).sign_in("maria\nFORGED line", "x")
    form = twilio_form()
    assert replay(server, PUBLIC_URL + "/voice", form, signature(PUBLIC_URL + "/voice", form)).status_code == 200
    server.stop()
    log = server.log_path.read_text()
    assert "\x1b" not in log and "\\x1b[31m" in log
    assert not [line for line in log.splitlines() if line.startswith(("10.0.0.1", "FORGED", "forged"))]
    assert "/healthz\\n10.0.0.1" in log  # the path as sent, on its one line
    json_lines = [line for line in log.splitlines() if '"route": "/voice"' in line]
    assert len(json_lines) == 1 and json.loads(json_lines[0][json_lines[0].index("{"):])["status"] == 200


# -- 6. chunked bodies ---------------------------------------------------------------------------

def test_6_chunked_bodies_are_held_to_the_same_limit(serve):
    server = serve(LINE, workers=1)

    def chunks(total: int):
        for _ in range(total // 8192):
            yield b"Digits=" + b"1" * 8185

    for path in ("/voice", "/voice/answer", "/simulator/api/step", "/staff/login"):
        response = requests.post(server.base + path, data=chunks(200 * 1024), timeout=20,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 413, path
    # A small chunked body, signed as Twilio signs, is read as ever.
    form = twilio_form()
    body = "&".join(f"{k}={requests.utils.quote(v, safe='')}" for k, v in form.items()).encode()
    small = requests.post(server.base + "/voice", data=iter([body[:100], body[100:]]), timeout=10,
                          headers={"Content-Type": "application/x-www-form-urlencoded",
                                   "X-Twilio-Signature": signature(PUBLIC_URL + "/voice", form)})
    assert small.status_code == 200 and "<Gather" in small.text


# -- 7. odd tokens and dates ---------------------------------------------------------------------

def test_7_odd_tokens_and_dates_answer_4xx(serve, store_url, engine):
    server = serve(LINE)
    message_call(server)
    add_account(store_url, "maria")
    staff = Browser(server.base)
    staff.sign_in("maria")
    (row,) = db.list_callbacks(engine)
    for token in ("%C3%A9", "%FF", "%00", "x" * 5000):
        odd = staff.post(f"/staff/callbacks/{row['id']}", data=f"status=closed&token={token}",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert odd.status_code == 403, token
    assert db.list_callbacks(engine)[0]["status"] == "new"
    for at in ("0001-01-01T00:00", "9999-12-31T23:59", "0001-01-01T00:00:00+14:00"):
        step = staff.post("/simulator/api/step", json={"do": "call", "when": "at", "at": at})
        assert step.status_code == 400 and "Pick a year" in step.json()["error"], at
    call = staff.post("/simulator/api/step", json={"do": "call"}).json()["call"]
    for at in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"):
        step = staff.post("/simulator/api/step", json={"do": "press", "keys": "1", "call": {**call, "at": at}})
        assert step.status_code == 400 and "not a time" in step.json()["error"], at


# -- 8. recording links and screened answers -----------------------------------------------------

@pytest.mark.parametrize("link", [
    "https://evil.example.com/2010-04-01/Accounts/{account}/Recordings/RE" + "0" * 32,
    "https://api.twilio.com.evil.example.com/2010-04-01/Accounts/{account}/Recordings/RE" + "0" * 32,
    "https://api.twilio.com/2010-04-01/Accounts/AC" + "e5" * 16 + "/Recordings/RE" + "0" * 32,
    "https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/RE" + "0" * 32 + "/../../x",
    "http://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/RE" + "0" * 32,
])
def test_8_recording_links_only_from_twilios_api_for_the_lines_own_account(serve, engine, link):
    server = serve(LINE, workers=1)
    call = message_call(server)
    url, form = captured(call, "/voice/recorded")
    genuine = db.list_callbacks(engine)
    assert len(genuine) == 1 and genuine[0]["recording_url"].startswith("https://api.twilio.com/2010-04-01/")
    forged = {**form, "CallSid": sid("CA"), "RecordingUrl": link.format(account=form["AccountSid"])}
    assert replay(server, url, forged, signature(url, forged)).status_code == 200  # the caller hears no error
    status_url = PUBLIC_URL + "/voice/recording"
    callback = {"AccountSid": form["AccountSid"], "CallSid": sid("CA"), "RecordingSid": sid("RE"),
                "RecordingUrl": forged["RecordingUrl"], "RecordingStatus": "completed", "RecordingDuration": "9"}
    assert replay(server, status_url, callback, signature(status_url, callback)).status_code == 200
    assert db.list_callbacks(engine) == genuine  # neither was stored


def test_8_a_screened_answer_counts_only_for_a_leg_the_line_dialed_for_that_call(serve, engine):
    server = serve(LINE)
    victim = server.phone(auth_token=TOKEN, caller="+15550001111")
    victim.dial_in()
    victim.press("0")
    assert victim.waiting == "dial"
    # Forged, signed with the token: "press 1" for the victim's call, from a leg the line never rang.
    url = PUBLIC_URL + f"/voice/screened?c={victim.call_sid}"
    forged = twilio_form(CallSid=sid("CA"), ParentCallSid=victim.call_sid, Direction="outbound-dial",
                         Digits="1", AccountSid=victim.account)
    assert replay(server, url, forged, signature(url, forged)).status_code == 200
    # The genuine leg of the attacker's own call, its "1" pointed at the victim's call.
    attacker = server.phone(auth_token=TOKEN, caller="+15550002222")
    attacker.dial_in()
    attacker.press("0")
    attacker.counselor_answers("2")  # the line whispers to a real leg of the attacker's call
    leg_url, leg = captured(attacker, "/voice/whisper")
    moved = {**leg, "ParentCallSid": victim.call_sid, "Digits": "1"}
    assert replay(server, url, moved, signature(url, moved)).status_code == 200
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.screens)).scalar() == 0
    # The victim's counselor phone went to its own voicemail: not a counselor taking the call.
    victim.ring_ends("completed", counselor_keys=None, duration=12)
    assert victim.waiting == "dial" and victim.last_dial.numbers == ("+15555550110",)  # it rings on
    # A counselor who really presses 1 on a leg the line rang takes the call.
    victim.ring_ends("completed", counselor_keys="1")
    assert victim.waiting is None and victim.heard[-1].kind == "hangup"


# -- 9. practice calls -------------------------------------------------------------------------

def test_9_practice_calls_never_reach_the_real_metrics_or_store(serve, engine):
    server = serve({})  # development on loopback, no account: the browser phone answers here
    api = server.base + "/simulator/api/step"
    for keys in (["1", "0"], ["0"]):
        step = requests.post(api, json={"do": "call"}, timeout=10).json()
        for key in keys:
            step = requests.post(api, json={"do": "press", "keys": key, "call": step["call"]}, timeout=10).json()
        step = requests.post(api, json={"do": "no_answer", "call": step["call"]}, timeout=10).json()
        assert step["lines"], step
    metrics = requests.get(server.base + "/metrics", timeout=10).text
    assert not re.search(r"^ivr_calls_total [1-9]", metrics, re.M)
    assert 'route="/voice"' not in metrics and "ivr_transfers_total{" not in metrics
    real = server.phone()
    real.dial_in()
    metrics = requests.get(server.base + "/metrics", timeout=10).text
    assert re.search(r"^ivr_calls_total 1\.0$", metrics, re.M)  # a real call counts, once
    assert server.workers_now()  # the store as the line left it, with its writer's batch flushed:
    server.stop()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.callbacks)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(db.screens)).scalar() == 0
        calls = conn.execute(select(db.calls.c.call_sid)).scalars().all()
        events = conn.execute(select(db.events.c.call_sid).distinct()).scalars().all()
    assert calls == [real.call_sid] and events == [real.call_sid]
