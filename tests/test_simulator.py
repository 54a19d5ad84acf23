"""The browser phone's page and JSON API: the line's own TwiML, played as Twilio would."""
import base64
import json
import re
import xml.etree.ElementTree as ET

import pytest

from ivr import create_app, db
from ivr.graph import mermaid
from tests.conftest import PUBLIC_URL, TOKEN

API = "/simulator/api/step"


def step(client, body, status=200, **kwargs):
    response = client.post(API, json=body, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def said(data) -> list:
    return [line for line in data["lines"] if line["kind"] == "say"]


def test_page_has_a_keypad_a_log_and_only_its_own_scripts(client, flow):
    response = client.get("/simulator")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for key in "1234567890*#":
        assert re.search(rf'<button type="button" class="key" data-key="{re.escape(key)}" disabled>{re.escape(key)}</button>', html)
    assert 'role="log"' in html and 'aria-live="polite"' in html
    assert re.search(r'<button type="button" id="call"[^>]*>Call</button>', html)
    assert re.search(r'<button type="button" id="hangup"[^>]*>Hang up</button>', html)
    assert 'type="datetime-local"' in html and 'value="after_hours"' in html and 'value="holiday"' in html
    assert 'lang="es-US"' in html and "Español" in html
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/static/") or s == "data:," for s in sources), sources
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    config = json.loads(re.search(r'<script id="config" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert config["graph"] == mermaid(flow)  # the same text `ivr graph` prints


def test_mermaid_is_served_by_the_app_with_its_license(client):
    bundle = client.get("/static/vendor/mermaid.min.js")
    assert bundle.status_code == 200 and b"mermaid" in bundle.data[:200] and len(bundle.data) > 1_000_000
    assert b"MIT License" in client.get("/static/vendor/mermaid.LICENSE").data


def test_a_call_shows_each_line_with_its_menu_and_prompt(client, flow):
    data = step(client, {"do": "call", "when": "now", "lang": "en"})
    assert [(l["prompt"], l["menu"], l["lang"]) for l in said(data)] == [
        ("welcome", "welcome", "en-US"), ("language_offer", "welcome", "es-US"),
        ("safety", "welcome", "en-US"), ("main_menu", "welcome", "en-US")]
    assert data["lines"][-1]["kind"] == "wait" and data["waiting"] == "gather"
    assert data["where"]["graph"] == "m_welcome"
    data = step(client, {"do": "press", "keys": "1", "call": data["call"]})
    assert data["lines"][0] == {"kind": "you", "text": "You press 1."}
    assert [(l["prompt"], l["menu"], l["text"]) for l in said(data)] == [
        ("detox", "detox", flow.text("en", "detox")), ("detox_menu", "detox", flow.text("en", "detox_menu"))]
    assert data["where"]["graph"] == "m_detox"
    data = step(client, {"do": "press", "keys": "0", "call": data["call"]})
    assert said(data)[0]["prompt"] == "connecting"
    ring = [l for l in data["lines"] if l["kind"] == "dial"]
    assert ring[0]["text"].startswith("Ringing counselor desk (+15555550100, +15555550101) for 25 seconds; screened")
    assert data["waiting"] == "dial" and data["where"]["graph"] == "m_g_desk"
    data = step(client, {"do": "answer", "call": data["call"]})
    assert [l["kind"] for l in data["lines"]] == ["you", "say", "hangup"]
    assert data["call"] is None and data["where"]["graph"] is None


def test_the_words_shown_are_exactly_the_twiml_twilio_gets(client):
    twiml = ET.fromstring(client.post("/voice", data={"CallSid": "CA" + "1" * 32}).data)
    expected = [(s.text, s.get("language")) for s in twiml.iter("Say")]
    data = step(client, {"do": "call", "when": "now", "lang": "en"})
    assert [(l["text"], l["lang"]) for l in said(data)] == expected


def test_after_hours_and_holiday_reach_the_line_per_call(client, flow):
    data = step(client, {"do": "call", "when": "after_hours", "lang": "en"})
    assert "Tuesday 01 December 2026, 20:00" in data["when"] and "closed" in data["when"]
    # The safety notice before the hours, so it is heard within 20 s after hours too.
    assert [l["prompt"] for l in said(data)][2:4] == ["safety", "after_hours"]
    assert "It opens again tomorrow at 8 AM" in said(data)[3]["text"]
    data = step(client, {"do": "press", "keys": "0", "call": data["call"]})
    assert "counselor on_call (+15555550120)" in [l for l in data["lines"] if l["kind"] == "dial"][0]["text"]

    data = step(client, {"do": "call", "when": "holiday", "lang": "es"})
    assert data["when"].startswith("Friday 25 December 2026, 10:00")
    assert [l["prompt"] for l in said(data)][:4] == ["welcome", "language_offer", "safety", "after_hours"]
    assert said(data)[0]["lang"] == "es-US"

    data = step(client, {"do": "call", "when": "at", "at": "2026-12-05T12:30", "lang": "en"})
    assert data["when"].startswith("Saturday 05 December 2026, 12:30") and "open" in data["when"]
    assert "after_hours" not in [l["prompt"] for l in said(data)]
    # the line's own clock is untouched: a real call still hears the desk open
    assert b"closed right now" not in client.post("/voice", data={"CallSid": "CA" + "2" * 32}).data


def test_any_worker_can_take_the_next_step(settings, flow):
    first, second = create_app(settings).test_client(), create_app(settings).test_client()
    data = step(first, {"do": "call", "when": "after_hours", "lang": "en"})
    data = step(second, {"do": "press", "keys": "8", "call": data["call"]})
    assert said(data)[0]["text"] == flow.text("es", "welcome")
    data = step(first, {"do": "say", "words": "consejero", "call": data["call"]})
    assert "counselor on_call" in [l for l in data["lines"] if l["kind"] == "dial"][0]["text"]


def test_voicemail_message_and_back_to_guidance(client, flow):
    data = step(client, {"do": "call", "when": "now", "lang": "en"})
    for action in ("press", "no_answer", "no_answer"):
        data = step(client, {"do": action, "keys": "0", "call": data["call"]})
    assert [l["prompt"] for l in said(data)] == ["counselors_busy", "safety_short", "voicemail_intro"]
    assert data["where"]["graph"] == "voicemail"
    data = step(client, {"do": "silence", "call": data["call"]})
    assert data["waiting"] == "record" and data["lines"][-1]["kind"] == "record"
    data = step(client, {"do": "message", "call": data["call"]})
    assert [l["prompt"] for l in said(data)] == ["message_saved", "safety_short"]
    data = step(client, {"do": "press", "keys": "9", "call": data["call"]})
    assert [l["prompt"] for l in said(data)] == ["main_menu"]  # the choices, not the whole greeting
    data = step(client, {"do": "hang_up", "call": data["call"]})
    assert data["call"] is None and data["lines"] == [{"kind": "you", "text": "You hang up."}]


def test_simulated_calls_are_kept_nowhere(client, settings):
    data = step(client, {"do": "call", "when": "now", "lang": "en"})
    for action in ("press", "no_answer", "no_answer", "silence", "message", "hang_up"):
        data = step(client, {"do": action, "keys": "0", "call": data["call"]})
    engine = db.connect(settings["DATABASE_URL"])
    assert db.list_callbacks(engine) == []
    with engine.connect() as conn:
        assert conn.execute(db.calls.select()).fetchall() == []
        assert conn.execute(db.events.select()).fetchall() == []


@pytest.mark.parametrize("spoil", [
    lambda c: c["phone"].update(pending=c["phone"]["pending"].replace('action="/', 'action="https://elsewhere.example/')),
    lambda c: c["phone"].update(pending='<!DOCTYPE x [<!ENTITY a "aaaa">]>' + c["phone"]["pending"]),
    lambda c: c["phone"].update(verbs=["<Script>alert(1)</Script>"]),
    lambda c: c["phone"].update(call_sid="CA../../etc"),
    lambda c: c["phone"].update(waiting="record"),
    lambda c: c.update(at="tomorrow-ish"),
])
def test_a_position_handed_back_is_checked(client, spoil):
    data = step(client, {"do": "call", "when": "now", "lang": "en"})
    spoil(data["call"])
    refused = step(client, {"do": "press", "keys": "1", "call": data["call"]}, status=400)
    assert "place a new call" in refused["error"]


def test_steps_that_do_not_fit_say_what_to_do(client):
    assert "JSON" in client.post(API, data="do=call").get_json()["error"]
    assert "'dance' is not something" in step(client, {"do": "dance"}, status=400)["error"]
    data = step(client, {"do": "call", "when": "now", "lang": "en"})
    assert "waiting for gather" in step(client, {"do": "answer", "call": data["call"]}, status=409)["error"]
    assert "one phone key" in step(client, {"do": "press", "keys": "12", "call": data["call"]}, status=400)["error"]
    assert "Pick a date" in step(client, {"do": "call", "when": "at", "at": "soon"}, status=400)["error"]


def test_production_puts_it_behind_the_staff_password_and_signs_as_twilio(tmp_path, settings):
    app = create_app({**settings, "IVR_ENV": "production", "TWILIO_AUTH_TOKEN": TOKEN,
                      "IVR_PUBLIC_URL": PUBLIC_URL, "IVR_STAFF_PASSWORD": "staff-pass"})
    client = app.test_client()
    assert client.get("/simulator").status_code == 401
    assert client.post(API, json={"do": "call"}).status_code == 401
    auth = {"Authorization": "Basic " + base64.b64encode(b"staff:staff-pass").decode()}
    assert client.get("/simulator", headers=auth).status_code == 200
    data = step(client, {"do": "call", "when": "now", "lang": "en"}, headers=auth)
    assert [l["prompt"] for l in said(data)][0] == "welcome"  # the signed request passed twilio_only
    data = step(client, {"do": "press", "keys": "0", "call": data["call"]}, headers=auth)
    assert data["waiting"] == "dial" and not [l for l in data["lines"] if l["kind"] == "error"]
    assert client.post("/voice", data={"CallSid": "CA" + "3" * 32}).status_code == 403
