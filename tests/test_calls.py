"""Whole calls through the real routes, in process: what a caller hears and where they end up."""
import pytest

from ivr import parts
from tests.conftest import CHRISTMAS, SUNDAY_3AM

TOPICS = {"1": "detox", "2": "rehab", "3": "aftercare", "4": "mental_health", "5": "family"}


def test_greeting_says_welcome_safety_and_counselor_key_before_the_menu(phone):
    call = phone()
    call.dial_in()
    said = call.said()
    assert call.waiting == "gather"
    assert "press 0" in said and "say counselor" in said
    assert said.index("9 1 1") < said.index("To learn about detox, press 1")
    assert "9 8 8" in said
    assert "Para español, oprima 8" in said


@pytest.mark.parametrize("key,topic", TOPICS.items())
def test_each_topic_is_heard_in_full_then_its_menu(phone, app, key, topic):
    flow = parts.flow(app)
    call = phone()
    call.dial_in()
    start = len(call.heard)
    call.press(key)
    said = call.said(start)
    assert flow.text("en", topic) in said
    assert flow.text("en", flow.menus[topic].say[0]) in said
    assert call.waiting == "gather"


@pytest.mark.parametrize("path", [[], ["1"], ["1", "1"], ["2"], ["2", "1"], ["2", "2"], ["3"], ["3", "1"], ["4"], ["5"], ["5", "1"]])
def test_zero_reaches_a_counselor_from_every_menu(phone, path):
    call = phone()
    call.dial_in()
    for key in path:
        call.press(key)
    call.press("0")
    assert call.waiting == "dial"
    assert call.last_dial.numbers == ("+15555550100", "+15555550101")
    assert call.last_dial.screened
    assert "Connecting you to a counselor" in call.heard[-2].text


@pytest.mark.parametrize("words", ["counselor", "I need to talk to someone", "consejero", "HELP please"])
def test_saying_counselor_word_reaches_a_counselor(phone, words):
    call = phone()
    call.dial_in()
    call.press("2")
    call.say(words)
    assert call.waiting == "dial"


def test_silent_caller_hears_an_apology_then_is_put_through(phone):
    call = phone()
    call.dial_in()
    start = len(call.heard)
    call.stay_silent()
    assert "didn't hear" in call.said(start)
    assert call.waiting == "gather"
    call.stay_silent()
    assert call.waiting == "dial"
    assert "connect you with a counselor" in call.said(start)


def test_wrong_keys_get_an_apology_then_a_counselor(phone):
    call = phone()
    call.dial_in()
    start = len(call.heard)
    call.press("6")
    assert "isn't one of the choices" in call.said(start)
    assert "To learn about detox, press 1" in call.said(start)
    call.press("#")
    assert call.waiting == "dial"


def test_star_repeats_the_explanation(phone, app):
    flow = parts.flow(app)
    call = phone()
    call.dial_in()
    call.press("1")
    start = len(call.heard)
    call.press("*")
    assert flow.text("en", "detox") in call.said(start)


def test_nobody_answers_leads_to_backup_then_voicemail_and_a_callback(phone, runner, settings, monkeypatch):
    call = phone(caller="+15551239876")
    call.dial_in()
    call.press("0")
    call.ring_ends("no-answer")
    assert call.last_dial.numbers == ("+15555550110",)
    start = len(call.heard)
    call.ring_ends("busy")
    assert "recorded" in call.said(start)
    call.stay_silent()
    assert call.waiting == "record"
    call.leave_message(20)
    assert "message is saved" in call.said(start)
    assert call.waiting == "gather"  # the caller is not hung up on
    from ivr import db
    rows = db.list_callbacks(db.connect(settings["DATABASE_URL"]))
    assert rows[0]["caller"] == "+15551239876"
    assert rows[0]["recording_seconds"] == 20
    assert rows[0]["status"] == "new"


def test_screened_counselor_who_presses_1_takes_the_call(phone):
    call = phone()
    call.dial_in()
    call.press("0")
    whisper = call.counselor_answers("1")
    assert "Press 1 to take it" in whisper[0].text
    assert "+1555" not in whisper[0].text
    call.ring_ends("completed")
    assert call.heard[-1].kind == "hangup"
    assert "Thank you for calling" in call.heard[-2].text


def test_a_phone_voicemail_that_answers_in_silence_does_not_take_the_call(phone):
    call = phone()
    call.dial_in()
    call.press("0")
    call.ring_ends("completed", counselor_keys="")
    assert call.waiting == "dial"
    assert call.last_dial.numbers == ("+15555550110",)


@pytest.mark.parametrize("when", [SUNDAY_3AM, CHRISTMAS])
def test_after_hours_greeting_and_on_call_counselor(app, client, phone, when):
    app.config["IVR_NOW"] = when
    call = phone()
    call.dial_in()
    said = call.said()
    assert "closed right now" in said and "It opens again" in said
    call.press("0")
    assert call.last_dial.numbers == ("+15555550120",)


def test_spanish_caller_hears_spanish_and_reaches_a_counselor(phone):
    call = phone()
    call.dial_in()
    start = len(call.heard)
    call.press("8")
    assert "oprima 1" in call.said(start)
    assert {h.lang for h in call.heard[start:] if h.kind == "say"} >= {"es-US"}
    call.say("quiero un consejero")
    assert call.waiting == "dial"
