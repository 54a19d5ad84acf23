"""Counselor routing through whole calls: ring groups, screening, hours, after hours, call ends."""
import itertools

import pytest
from sqlalchemy import select

from ivr import create_app, db, parts
from ivr.db import upserts, writer
from ivr.phone import Phone, client_post
from tests.conftest import CHRISTMAS, SUNDAY_3AM, WEEKDAY_MORNING

DESK = ("+15555550100", "+15555550101")
BACKUP = ("+15555550110",)
ON_CALL = ("+15555550120",)
CALLER = "+15551239876"
# Every menu, with the keys that reach it from the greeting.
PATHS = {"detox": "1", "detox_withdrawal": "11", "rehab": "2", "rehab_detail": "21",
         "aftercare": "3", "aftercare_detail": "31", "mental_health": "4", "family": "5",
         "choosing": "51"}


def edited_line(flow_dir, settings, old: str, new: str, when: str = WEEKDAY_MORNING):
    """An app serving a copy of the shipped flow with one edit, and a phone factory for it."""
    path = flow_dir / "call_flows.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    app = create_app({**settings, "IVR_CALL_FLOWS": str(path), "IVR_NOW": when})
    client = app.test_client()
    return lambda **kw: Phone(client_post(client), **kw)


def at_counselor(phone) -> Phone:
    """A call that pressed 0 at the greeting and is ringing the first group."""
    call = phone(caller=CALLER)
    call.dial_in()
    call.press("0")
    return call


# -- in hours: desk, backup, voicemail --------------------------------------------------------

def test_weekday_morning_zero_rings_the_desk_with_screening_and_ringing_for_the_caller(phone, client):
    call = at_counselor(phone)
    dial = call.pending
    assert call.last_dial.numbers == DESK and call.last_dial.screened
    assert dial.get("answerOnBridge") == "true" and dial.get("timeout") == "25"
    assert all("/voice/whisper" in n.get("url") for n in dial.findall("Number"))
    assert CALLER.lstrip("+") not in str(call.requests[-1][0])


def test_no_answer_rings_backup_then_voicemail_then_the_caller_is_recorded(phone):
    call = at_counselor(phone)
    call.ring_ends("no-answer")
    assert call.last_dial.numbers == BACKUP and call.last_dial.screened
    assert "still trying" in call.said().lower()
    start = len(call.heard)
    call.ring_ends("no-answer")
    said = call.said(start)
    assert "recorded" in said and "call you back" in said and "press 0" in said
    call.stay_silent()
    assert call.waiting == "record"
    record = call.heard[-1].extra
    assert record["action"].startswith("/voice/recorded") and record["maxLength"] == "120"
    assert record["recordingStatusCallback"].startswith("/voice/recording")


@pytest.mark.parametrize("status", ["busy", "no-answer", "failed", "canceled"])
def test_each_failed_ring_leads_on_and_never_ends_the_call(phone, status):
    call = at_counselor(phone)
    call.ring_ends(status)
    assert call.waiting == "dial" and call.last_dial.numbers == BACKUP
    call.ring_ends(status)
    assert call.waiting == "gather" and "recorded" in call.said()
    assert not any(h.kind in ("hangup", "end") for h in call.heard)


def test_a_key_during_the_voicemail_notice_tries_a_counselor_again(phone):
    call = at_counselor(phone)
    call.ring_ends("no-answer")
    call.ring_ends("no-answer")
    call.press("0")
    assert call.waiting == "dial" and call.last_dial.numbers == DESK


def test_a_silent_recording_brings_the_caller_back_to_the_menu_not_a_hangup(phone):
    call = at_counselor(phone)
    call.ring_ends("busy")
    call.ring_ends("busy")
    call.stay_silent()
    start = len(call.heard)
    call.record_nothing()  # Twilio skips the action on an empty recording: our Redirect follows
    assert call.waiting == "gather"
    assert "didn't hear" in call.said(start)


# -- screening --------------------------------------------------------------------------------

def test_whisper_accepts_on_1_and_the_call_ends_politely_after_the_talk(phone):
    call = at_counselor(phone)
    call.ring_ends("completed", counselor_keys="1")
    assert [h.kind for h in call.heard[-2:]] == ["say", "hangup"]
    assert "Thank you for calling" in call.heard[-2].text


@pytest.mark.parametrize("keys", ["", "2", "#"])
def test_whisper_declines_on_silence_or_another_key_and_the_caller_is_led_on(phone, keys):
    call = at_counselor(phone)
    call.ring_ends("completed", counselor_keys=keys)  # Twilio: the leg was answered, so completed
    assert call.waiting == "dial" and call.last_dial.numbers == BACKUP
    call.ring_ends("completed", counselor_keys=keys)
    assert call.waiting == "gather" and "recorded" in call.said()
    assert not any(h.kind in ("hangup", "end") for h in call.heard)


def test_one_callers_accepted_whisper_never_counts_for_another_call(phone):
    taken = at_counselor(phone)
    taken.ring_ends("completed", counselor_keys="1")
    other = at_counselor(phone)
    other.ring_ends("completed", counselor_keys="")
    assert other.waiting == "dial" and other.last_dial.numbers == BACKUP


def test_whisper_names_the_line_and_topic_never_the_callers_number(phone):
    call = phone(caller=CALLER)
    call.dial_in()
    call.press("1")
    call.press("0")
    whisper = call.counselor_answers("1")
    assert [w.text for w in whisper] == ["Recovery Helpline call, about detox. Press 1 to take it."]
    child = call.requests[-2]  # the whisper request Twilio makes on the counselor's leg
    assert child[1]["ParentCallSid"] == call.call_sid
    assert CALLER not in whisper[0].text and "5551239876" not in whisper[0].text.replace(" ", "")


def test_whisper_from_the_greeting_names_only_the_line(phone):
    call = at_counselor(phone)
    assert [w.text for w in call.counselor_answers("")] == ["Recovery Helpline call. Press 1 to take it."]


def test_in_turn_rings_one_number_at_a_time_in_order(flow_dir, settings):
    phone = edited_line(flow_dir, settings, "    order: together\n", "    order: in_turn\n")
    call = at_counselor(phone)
    assert call.last_dial.numbers == DESK[:1]
    call.ring_ends("no-answer")
    assert call.last_dial.numbers == DESK[1:]
    call.ring_ends("completed", counselor_keys="")
    assert call.last_dial.numbers == BACKUP


def test_unscreened_group_takes_a_completed_ring_as_talked(flow_dir, settings):
    phone = edited_line(flow_dir, settings, "    order: together\n    screen: yes\n",
                        "    order: together\n    screen: no\n")
    call = at_counselor(phone)
    assert not call.last_dial.screened
    call.ring_ends("completed")
    assert call.heard[-1].kind == "hangup"


# -- after hours and holidays -----------------------------------------------------------------

@pytest.mark.parametrize("when,opens", [
    (SUNDAY_3AM, "tomorrow at 8 AM"),                        # Monday
    (CHRISTMAS, "tomorrow at 9 AM"),                         # Saturday the 26th
    ("2026-12-05T14:00:00-05:00", "on Monday at 8 AM"),      # Saturday after 13:00
    ("2026-12-01T06:30:00-05:00", "today at 8 AM"),
    ("2026-12-31T21:00:00-05:00", "on Saturday at 9 AM"),    # New Year's Day is closed
])
def test_after_hours_greeting_says_closed_when_it_opens_and_that_0_still_works(app, phone, when, opens):
    app.config["IVR_NOW"] = when
    call = phone()
    call.dial_in()
    said = call.said()
    assert f"closed right now. It opens again {opens}." in said
    assert "on-call counselor" in said and "press 0" in said
    assert said.index("closed right now") < said.index("To learn about detox, press 1")
    call.press("0")
    assert call.last_dial.numbers == ON_CALL and call.last_dial.screened


@pytest.mark.parametrize("when", [SUNDAY_3AM, CHRISTMAS])
@pytest.mark.parametrize("menu", PATHS)
def test_every_explanation_is_heard_after_hours(app, phone, when, menu):
    app.config["IVR_NOW"] = when
    flow = parts.flow(app)
    call = phone()
    call.dial_in()
    for key in PATHS[menu]:
        start = len(call.heard)
        call.press(key)
    assert flow.text("en", flow.menus[menu].intro[0]) in call.said(start)
    call.press("0")
    assert call.last_dial.numbers == ON_CALL


def test_after_hours_no_answer_goes_to_voicemail_and_keeps_the_caller(app, phone, settings):
    app.config["IVR_NOW"] = SUNDAY_3AM
    call = at_counselor(phone)
    call.ring_ends("no-answer")
    assert "recorded" in call.said()
    call.stay_silent()
    call.leave_message(9)
    assert call.waiting == "gather" and "message is saved" in call.said()


def test_special_hours_in_the_yaml_shorten_christmas_eve(flow_dir, settings):
    special = '  closed_on: ["2026-12-25", "2027-01-01"]\n  special:\n    "2026-12-24": "08:00-14:00"\n'
    old = '  closed_on: ["2026-12-25", "2027-01-01"]\n'
    open_phone = edited_line(flow_dir, settings, old, special, "2026-12-24T13:30:00-05:00")
    call = at_counselor(open_phone)
    assert "closed" not in call.said() and call.last_dial.numbers == DESK
    flow_dir.joinpath("call_flows.yaml").write_text(
        flow_dir.joinpath("call_flows.yaml").read_text().replace(special, old))
    late_phone = edited_line(flow_dir, settings, old, special, "2026-12-24T14:30:00-05:00")
    call = late_phone()
    call.dial_in()
    assert "closed right now. It opens again on Saturday at 9 AM." in call.said()
    call.press("0")
    assert call.last_dial.numbers == ON_CALL


# -- how calls ended (POST /status) ----------------------------------------------------------

@pytest.fixture
def line(database_url, settings):
    """The line on each store (SQLite, PostgreSQL): a phone factory and the store's engine."""
    app = create_app({**settings, "DATABASE_URL": database_url})
    client, engine = app.test_client(), db.connect(database_url)
    yield (lambda **kw: Phone(client_post(client), **kw)), (engine, parts.storage(app))
    parts.storage(app).close()
    engine.dispose()


def _call_row(store, sid: str) -> dict:
    """The call's record, once the line has written what it queued (off the callers' path)."""
    engine, storage = store
    storage.sink.flush()
    with engine.connect() as conn:
        return dict(conn.execute(select(db.calls).where(db.calls.c.call_sid == sid)).one()._mapping)


def test_status_records_a_transferred_call_that_ended(line):
    phone, store = line
    call = at_counselor(phone)
    call.ring_ends("completed", counselor_keys="1")
    call.hang_up(duration=312)
    row = _call_row(store, call.call_sid)
    assert (row["status"], row["duration"], row["transferred"]) == ("completed", 312, True)
    assert row["ended_at"] is not None and row["caller_key"] and CALLER not in str(row.values())


def test_status_records_a_call_that_only_heard_guidance(line):
    phone, store = line
    call = phone(caller=CALLER)
    call.dial_in()
    call.press("2")
    call.hang_up(duration=75)
    row = _call_row(store, call.call_sid)
    assert (row["status"], row["duration"], row["transferred"]) == ("completed", 75, False)


# -- through gunicorn, two workers sharing PostgreSQL -------------------------------------------

@pytest.mark.slow
def test_screened_answer_and_voicemail_across_gunicorn_workers_on_postgresql(serve, postgres_url, runner):
    from ivr.cli import main
    from tests.conftest import PUBLIC_URL, ROOT, TOKEN
    server = serve({"DATABASE_URL": postgres_url, "TWILIO_AUTH_TOKEN": TOKEN,
                    "IVR_PUBLIC_URL": PUBLIC_URL}, workers=2)
    talked = server.phone(auth_token=TOKEN, caller=CALLER)
    talked.dial_in()
    talked.press("3")
    talked.press("0")
    talked.ring_ends("completed", counselor_keys="1")
    assert "Thank you for calling" in talked.said() and talked.heard[-1].kind == "hangup"
    left = server.phone(auth_token=TOKEN, caller="+15557654321")
    left.dial_in()
    left.press("0")
    left.ring_ends("completed", counselor_keys="")  # a phone's voicemail picked up: declined
    left.ring_ends("no-answer")
    left.stay_silent()
    left.leave_message(41)
    link = next(form["RecordingUrl"] for _, form in left.requests if "RecordingUrl" in form)
    listed = runner.invoke(main, ["callbacks"], env={"DATABASE_URL": postgres_url,
                                                     "IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml")})
    row = next(line for line in listed.output.splitlines() if link in line)
    assert "+15557654321" in row and "41s" in row and " new " in row
    assert CALLER not in server.log_path.read_text() and "+15557654321" not in server.log_path.read_text()


# A call's steps land in different gunicorn workers, and each worker writes what it noted in
# its own batches: the record must come out the same whichever batch is written first.
CALL_FACTS = (("started", {"caller_key": "key-of-the-caller"}), ("transferred", {}),
              ("ended", {"status": "completed", "duration": 300, "caller_key": "key-of-the-caller"}))


@pytest.mark.parametrize("statements", ["insert-or-update", "plain"])
@pytest.mark.parametrize("order", list(itertools.permutations(range(len(CALL_FACTS)))))
def test_a_calls_record_is_the_same_whichever_worker_writes_first(database_url, order, statements,
                                                                   monkeypatch):
    if statements == "plain":  # the look-then-write path, for databases without insert-or-update
        monkeypatch.setattr(upserts, "dialect", lambda conn: None)
        # It looks, then writes: only the flushes below write, in this order, never the writers'
        # own threads at once (they woke after BATCH_SECONDS on a busy machine, and raced).
        monkeypatch.setattr(writer, "BATCH_SECONDS", 3600)
    engine = db.connect(database_url)
    sid = "CA" + "".join(map(str, order)).ljust(32, "0")
    workers = [db.EventSink(engine) for _ in CALL_FACTS]
    for sink, (fact, values) in zip(workers, CALL_FACTS):
        sink.note(fact, sid, **values)
    for index in order:
        workers[index].flush()
    with engine.connect() as conn:
        row = dict(conn.execute(select(db.calls).where(db.calls.c.call_sid == sid)).one()._mapping)
    assert (row["status"], row["duration"], row["transferred"], row["caller_key"]) == (
        "completed", 300, True, "key-of-the-caller")
    assert row["started_at"] < row["ended_at"]  # the start as noted, not the moment another fact wrote first
    engine.dispose()


def test_the_after_hours_notice_says_the_day_names_staff_wrote_in_prompts(flow_dir, settings):
    (flow_dir / "prompts" / "en" / "day_names.txt").write_text(
        "Monday the first day, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday\n")
    phone = edited_line(flow_dir, settings, "start: welcome", "start: welcome", when="2026-12-05T14:00:00-05:00")
    call = phone()
    call.dial_in()
    assert "closed right now. It opens again on Monday the first day at 8 AM." in call.said()


def test_without_day_name_files_the_after_hours_notice_says_the_lines_own(flow_dir, settings):
    for lang in ("en", "es"):
        for kind in ("day_names", "month_names"):
            (flow_dir / "prompts" / lang / f"{kind}.txt").unlink()
    phone = edited_line(flow_dir, settings, "start: welcome", "start: welcome", when="2026-12-05T14:00:00-05:00")
    call = phone()
    call.dial_in()
    assert "closed right now. It opens again on Monday at 8 AM." in call.said()


@pytest.mark.parametrize("kind, names, said", [
    ("day_names", "lunes, martes, miércoles, jueves, viernes, sábado", "lists 6 names; write the 7 day names"),
    ("month_names", "enero, febrero, , abril, mayo, junio, julio, agosto, septiembre, octubre, noviembre, diciembre",
     "lists 11 names; write the 12 month names"),
])
def test_ivr_check_refuses_day_or_month_names_it_could_not_say(flow_dir, runner, kind, names, said):
    from ivr.cli import main
    (flow_dir / "prompts" / "es" / f"{kind}.txt").write_text(names + "\n")
    result = runner.invoke(main, ["check", str(flow_dir / "call_flows.yaml")])
    assert result.exit_code == 1 and f"prompts/es/{kind}.txt {said}" in result.output
