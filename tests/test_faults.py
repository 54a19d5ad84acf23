"""Bad input never breaks a call; a fault inside a webhook is an apology and a counselor, never a 500."""
import json
import logging

import pytest

from ivr import create_app, parts
from ivr.phone import Phone, client_post
from tests.attack import number_forms_in, twiml, twilio_form, webhook_paths
from tests.conftest import SUNDAY_3AM, settle

DESK_CHAIN = ["+15555550100", "+15555550101", "+15555550110"]  # desk, then backup
APOLOGY = "something went wrong on our end"
DB_NOWHERE = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"


def _is_safe_twiml(body: str) -> bool:
    """The apology, then a Dial ringing the counselors: what a caller hears when we fail."""
    root = twiml(body)
    say, dial = root.find("Say"), root.find("Dial")
    return (say is not None and APOLOGY in say.text and dial is not None
            and [n.text for n in dial.findall("Number")] == DESK_CHAIN)


# -- faults ---------------------------------------------------------------------------------------

def test_a_fault_in_every_webhook_is_caught_logged_and_answered_safely(app, client, caplog):
    caplog.set_level(logging.INFO, logger="ivr")

    def broken(*args, **kwargs):
        raise RuntimeError("injected fault")

    paths = webhook_paths(app)
    for rule in app.url_map.iter_rules():
        if rule.rule in paths:
            app.view_functions[rule.endpoint] = broken
    for path in paths:
        caplog.clear()
        response = client.post(path, data=twilio_form(CallSid="CAfault" + path.replace("/", "")))
        assert response.status_code == 200, path
        assert _is_safe_twiml(response.get_data(as_text=True)), path
        failure = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(failure) == 1, path
        assert "CAfault" in failure[0].getMessage() and failure[0].exc_info, path
        assert "RuntimeError: injected fault" in caplog.text and "Traceback" in caplog.text
        assert number_forms_in(caplog.text) == []


# What a caller does to reach each step of the engine (the last action hits the fault).
REACH = {
    "greet": [],
    "answer": [lambda c: c.press("1")],
    "silence": [lambda c: c.stay_silent()],
    "dialed": [lambda c: c.press("0"), lambda c: c.ring_ends("no-answer")],
    "recorded": [lambda c: c.press("0"), lambda c: c.ring_ends("no-answer"), lambda c: c.ring_ends("busy"),
                 lambda c: c.stay_silent(), lambda c: c.leave_message()],
}


@pytest.mark.parametrize("step", REACH)
def test_a_fault_in_the_engine_mid_call_puts_the_caller_through(phone, monkeypatch, caplog, step):
    from ivr import call as engine
    caplog.set_level(logging.ERROR, logger="ivr")
    monkeypatch.setattr(engine, step, lambda *a, **k: 1 / 0)
    caller = phone()
    caller.dial_in()
    for action in REACH[step]:
        action(caller)
    assert APOLOGY in caller.said()
    assert caller.waiting == "dial" and list(caller.last_dial.numbers) == DESK_CHAIN
    assert "ZeroDivisionError" in caplog.text and caller.call_sid in caplog.text


def test_the_store_being_down_never_breaks_a_call(settings, caplog):
    caplog.set_level(logging.ERROR, logger="ivr")
    app = create_app({**settings, "DATABASE_URL": DB_NOWHERE})
    from ivr.phone import Phone, client_post
    caller = Phone(client_post(app.test_client()), caller="+15551234567")
    caller.dial_in()
    caller.press("1")
    caller.press("0")
    caller.ring_ends("no-answer")
    caller.ring_ends("busy")
    caller.stay_silent()
    start = len(caller.heard)
    caller.leave_message()
    assert "could not save your message" in caller.said(start)  # never "saved" when it is not
    assert "saved" not in caller.said(start).replace("could not save", "")
    assert caller.waiting == "gather"
    caller.press("0")
    caller.ring_ends("completed", counselor_keys="1")  # the 1 cannot be stored; a long leg talked
    assert caller.heard[-1].kind == "hangup" and "Thank you for calling" in caller.heard[-2].text
    caller.hang_up()
    assert "store unavailable" in caplog.text
    assert number_forms_in(caplog.text) == []  # hide_parameters: failed writes don't echo values


@pytest.mark.parametrize("damage", ["deleted", "corrupt", "prompts gone"])
def test_fallback_needs_neither_the_flow_file_nor_the_database(flow_dir, settings, monkeypatch, damage):
    import shutil

    from ivr import live as store
    app = create_app({**settings, "IVR_CALL_FLOWS": str(flow_dir / "call_flows.yaml"),
                      "DATABASE_URL": DB_NOWHERE})
    client = app.test_client()
    if damage == "deleted":
        (flow_dir / "call_flows.yaml").unlink()
    elif damage == "corrupt":
        (flow_dir / "call_flows.yaml").write_text("line: [\n  name: {{{\n")
    else:
        shutil.rmtree(flow_dir / "prompts")
    settle(flow_dir)  # as if the damage was saved a moment ago and left
    monkeypatch.setattr(store, "CHECK_EVERY", 0)
    # The request itself looks (a busy machine could make the small flow count as slow to look
    # at, and the look would then happen beside the request, after the assertion below).
    monkeypatch.setattr(store, "SLOW_LOOK", float("inf"))
    monkeypatch.setattr(store, "SLOW_LOAD", float("inf"))
    client.get("/healthz")  # the store looks at the files and refuses the damage
    assert parts.live_flow(app).error
    response = client.post("/fallback", data=twilio_form(ErrorCode="11200"))
    assert response.status_code == 200 and _is_safe_twiml(response.get_data(as_text=True))
    after = client.post("/fallback?step=after", data=twilio_form(DialCallStatus="no-answer"))
    assert twiml(after.get_data(as_text=True)).find("Record") is not None  # a message, not a hang-up
    talked = client.post("/fallback?step=after", data=twilio_form(DialCallStatus="completed"))
    assert twiml(talked.get_data(as_text=True)).find("Hangup") is not None


def test_a_failed_call_hears_the_apology_then_rings_the_desk_and_its_backup_at_once(phone):
    call = phone()
    call.dial_in()
    call.press("1")
    since = len(call.heard)
    call.fall_back()  # the line's answer to the 1 failed: Twilio fetches /fallback
    assert APOLOGY in call.said(since)
    dial = call.last_dial
    assert list(dial.numbers) == DESK_CHAIN
    assert not dial.screened and dial.extra["timeout"] == "25" and dial.extra["action"] == "/fallback?step=after&l=en"
    call.ring_ends("completed")
    assert call.heard[-1].kind == "hangup"


def test_a_failed_call_after_hours_rings_the_on_call_phone(settings):
    after_hours = create_app({**settings, "IVR_NOW": SUNDAY_3AM})
    call = Phone(client_post(after_hours.test_client()))
    call.dial_in()
    call.fall_back()
    assert call.last_dial.numbers == ("+15555550120",)


def test_a_failed_spanish_call_is_sorry_in_spanish_and_rings_the_spanish_desk_and_its_chain(flow_dir, settings):
    from tests.test_spanish import choose_spanish
    flow_file = flow_dir / "call_flows.yaml"
    flow_file.write_text(flow_file.read_text()
                         .replace("  backup:\n", '  desk_es:\n    ring: ["+15555550130"]\n    then: backup\n  backup:\n', 1)
                         .replace("routing:\n  open: desk\n", "routing:\n  open: desk\n  es: {open: desk_es}\n", 1))
    app = create_app({**settings, "IVR_CALL_FLOWS": str(flow_file)})
    call = Phone(client_post(app.test_client()))
    choose_spanish(call)
    call.press("2")
    since = len(call.heard)
    call.fall_back()
    said = [h for h in call.heard[since:] if h.kind == "say"]
    flow = parts.flow(app)
    assert [(h.text, h.lang) for h in said] == [(flow.text("es", "fallback_sorry"), "es-US")]
    assert call.last_dial.numbers == ("+15555550130", "+15555550110") and not call.last_dial.screened
    assert "l=es" in call.last_dial.extra["action"]


def test_whatever_is_strange_about_the_flow_the_fallback_rings_its_first_group(settings):
    import dataclasses
    from datetime import datetime, timezone

    from ivr import call as engine
    flow = parts.flow(create_app(settings))
    strange = dataclasses.replace(flow, routing={})  # no group for any hour or language
    reply = engine.fallback(strange, datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc), "en", crisis=False)
    assert reply.then.numbers == tuple(DESK_CHAIN)  # the first group written, and what it leads on to


def test_the_fallback_rings_each_phone_of_the_chain_once_and_at_most_ten(flow_dir, settings):
    flow_file = flow_dir / "call_flows.yaml"
    desk = [f"+155555501{n:02}" for n in range(8)]
    backup = ["+15555550100"] + [f"+155555502{n:02}" for n in range(4)]  # shares one with the desk
    flow_file.write_text(flow_file.read_text()
                         .replace('ring: ["+15555550100", "+15555550101"]', f"ring: {json.dumps(desk)}", 1)
                         .replace('ring: ["+15555550110"]', f"ring: {json.dumps(backup)}", 1))
    app = create_app({**settings, "IVR_CALL_FLOWS": str(flow_file)})
    call = Phone(client_post(app.test_client()))
    call.dial_in()
    call.fall_back()
    assert call.last_dial.numbers == tuple(desk + backup[1:3])


# -- bad input: treated like a wrong key --------------------------------------------------------

WRONG_KEY = "isn't one of the choices"


@pytest.mark.parametrize("digits", ["²", "١", "𝟙", "1" * 33, "12", "1\x00", " 1", "<Say>1</Say>", "A", "-1", "٠"])
def test_digits_that_are_not_phone_keys_are_a_wrong_key(client, digits):
    body = client.post("/voice/answer?n=welcome&l=en", data=twilio_form(Digits=digits)).get_data(as_text=True)
    assert WRONG_KEY in body and twiml(body).find("Gather") is not None


# Huge, yet inside the request limit (a body past it is refused before it is read, below).
@pytest.mark.parametrize("speech", ["x" * 30000, "🙂" * 5000, "\u202eredro\u202c", "<Response/>", "\x00\x01"])
def test_strange_or_huge_speech_is_a_wrong_key(client, speech, caplog):
    response = client.post("/voice/answer?n=detox&l=en", data=twilio_form(SpeechResult=speech))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert WRONG_KEY in body and 'action="/voice/answer?n=detox&amp;l=en&amp;t=1' in body
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # not a crash hidden by the apology


def test_a_counselor_word_buried_in_a_long_speech_still_counts_only_within_bounds(client):
    near = client.post("/voice/answer?n=detox&l=en", data=twilio_form(SpeechResult="counselor " + "x " * 50))
    assert twiml(near.get_data(as_text=True)).find("Dial") is not None
    far = client.post("/voice/answer?n=detox&l=en", data=twilio_form(SpeechResult="x " * 500 + "counselor"))
    assert WRONG_KEY in far.get_data(as_text=True)  # past the bound: not read, not an error


@pytest.mark.parametrize("query,lands_on", [
    ("n=../../etc/passwd&l=en", "welcome"), ("n=WELCOME&l=en", "welcome"), ("n=detox%00&l=en", "welcome"),
    ("n=detox&l=../en", "detox"), ("n=detox&l=xx", "detox"), ("n=detox&l=en%0A", "detox"),
    ("n=detox&l=en&t=²", "detox"), ("n=detox&l=en&t=٣", "detox"), ("n=detox&l=en&t=-1", "detox"),
    ("n=detox&l=en&t=99999999999999999999", "detox"), ("n=detox&l=en&p=" + "a." * 5000, "detox"),
])
def test_unknown_state_in_the_url_is_replaced_with_safe_values(client, query, lands_on):
    body = client.post("/voice/answer?" + query, data=twilio_form(Digits="6")).get_data(as_text=True)
    gather = twiml(body).find("Gather")
    assert WRONG_KEY in body and gather is not None  # a first wrong key, not a transfer
    assert gather.get("action").startswith(f"/voice/answer?n={lands_on}&l=en&t=1")


@pytest.mark.parametrize("form,query,rings", [
    # A status Twilio never sends is a failed ring: the desk's next group.
    ({"DialCallStatus": "completed; DROP TABLE calls"}, "g=desk&i=0&n=welcome&l=en", DESK_CHAIN[2:]),
    # A group the flow does not have: the desk again, from the start.
    ({"DialCallStatus": "no-answer"}, "g=../desk&i=²&n=welcome&l=en", DESK_CHAIN[:2]),
    ({"DialCallStatus": "no-answer"}, "g=desk&i=99999999999&n=welcome&l=en", DESK_CHAIN[2:]),
    # A taken call whose CallSid cannot be checked is not taken: screening is not skipped.
    ({"DialCallStatus": "completed", "CallSid": "CA' OR '1'='1"}, "g=desk&i=0&n=welcome&l=en", DESK_CHAIN[2:]),
])
def test_a_strange_ring_result_leads_on_to_a_counselor(client, form, query, rings, caplog):
    body = client.post("/voice/dialed?" + query, data=twilio_form(**form)).get_data(as_text=True)
    dial = twiml(body).find("Dial")
    assert dial is not None and [n.text for n in dial.findall("Number")] == rings
    # The engine's own answer, not the apology of a step that crashed (which rings someone too).
    assert APOLOGY not in body and not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("field,value", [
    ("RecordingUrl", "javascript:alert(1)"), ("RecordingUrl", "https://x.example/<script>"),
    ("RecordingUrl", "http://api.twilio.com/plain-http"), ("RecordingDuration", "²"),
    ("RecordingDuration", "9" * 40), ("From", "<script>alert(1)</script>"), ("CallSid", "CA\n[fake log line]"),
])
def test_a_strange_recording_never_stores_junk_and_never_errors(client, settings, field, value):
    from ivr import db
    form = twilio_form(**{"RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
                          "RecordingDuration": "12", field: value})
    response = client.post("/voice/recorded?n=_voicemail&l=en", data=form)
    assert response.status_code == 200 and twiml(response.get_data(as_text=True)).find("Gather") is not None
    client.post("/voice/recording?n=_voicemail&l=en", data=form)
    for row in db.list_callbacks(db.connect(settings["DATABASE_URL"])):
        assert row["recording_url"].startswith("https://") and "<" not in row["recording_url"]
        assert "<" not in (row["caller"] or "") and "\n" not in row["call_sid"]
        assert row["recording_seconds"] is None or row["recording_seconds"] < 10**6


def test_a_flood_of_a_body_is_refused_before_it_is_read(client):
    response = client.post("/voice/answer", data={"SpeechResult": "x" * 2_000_000})
    assert response.status_code == 413


def test_status_callbacks_with_strange_values_store_nothing_strange(app, client, settings):
    from sqlalchemy import select

    from ivr import db
    client.post("/status", data=twilio_form(CallStatus="<b>x</b>" * 10, CallDuration="²"))
    client.post("/status", data=twilio_form(CallSid="CA" + "c3" * 16, CallStatus="completed", CallDuration="61"))
    parts.storage(app).sink.flush()
    with db.connect(settings["DATABASE_URL"]).connect() as conn:
        rows = {r.call_sid: r for r in conn.execute(select(db.calls))}
    assert rows["CA" + "a1" * 16].status == "unknown" and rows["CA" + "a1" * 16].duration is None
    assert rows["CA" + "c3" * 16].status == "completed" and rows["CA" + "c3" * 16].duration == 61
