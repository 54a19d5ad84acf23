"""Voicemail callbacks end to end, on SQLite and PostgreSQL: a call leaves a message, staff see
it with `ivr callbacks` and on /staff/callbacks, mark it done, and purge old records."""
import logging
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select

from ivr import audit, create_app, db, parts, staff
from ivr.cli import main
from ivr.phone import Phone, client_post
from tests.conftest import PUBLIC_URL, ROOT, TOKEN

CALLER = "+15551239876"
UTC = timezone.utc


@pytest.fixture
def store(database_url):
    """An empty store of each kind (the PostgreSQL database is shared by the session)."""
    engine = db.connect(database_url)
    with engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            if table.name != "audit_trail":  # append-only: its entries outlive every test, by design
                conn.execute(table.delete())
    yield database_url, engine
    engine.dispose()


@pytest.fixture
def line(store, settings):
    """The line on that store."""
    app = create_app({**settings, "DATABASE_URL": store[0]})
    yield app
    parts.storage(app).close()


def leave_message(app, caller: str = CALLER, seconds: int = 33, keys: str = "1") -> Phone:
    """A whole call: guidance, 0, nobody answers twice, a message after the tone."""
    call = Phone(client_post(app.test_client()), caller=caller)
    call.dial_in()
    for key in keys:
        call.press(key)
    call.press("0")
    call.ring_ends("no-answer")
    call.ring_ends("busy")
    call.stay_silent()
    call.leave_message(seconds)
    assert "message is saved" in call.said()
    return call


def recording_of(call: Phone) -> str:
    """The recording URL Twilio sent for this call's message."""
    return next(form["RecordingUrl"] for _, form in call.requests if "RecordingUrl" in form)


def ivr(runner, url: str, *args):
    """Run the staff command line against a store."""
    return runner.invoke(main, list(args), env={"DATABASE_URL": url,
                                                "IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml")})


def add_callback(engine, created_at: datetime, caller: str = CALLER, **values) -> int:
    """Put a callback request in the store directly (for times a test needs to choose)."""
    row = dict(created_at=created_at, call_sid="CA" + "0" * 32, caller=caller, lang="en",
               path="welcome.detox", recording_url="https://api.twilio.com/x/Recordings/RE1",
               recording_seconds=20, status="new") | values
    with engine.begin() as conn:
        return conn.execute(insert(db.callbacks).values(**row)).inserted_primary_key[0]


# -- `ivr callbacks` --------------------------------------------------------------------------

def test_a_recorded_message_appears_in_ivr_callbacks_with_its_link(line, store, runner):
    call = leave_message(line)
    result = ivr(runner, store[0], "callbacks")
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()[:2]
    assert "America/New_York" in header
    assert recording_of(call) in row and CALLER in row
    assert re.search(r"^\d+\s+\d{4}-\d\d-\d\d \d\d:\d\d E[SD]T\s+new\s", row)
    assert " en " in row and "33s" in row and "(welcome > detox)" in row


def test_ivr_callbacks_lists_newest_first_in_desk_local_time(store, runner):
    url, engine = store
    add_callback(engine, datetime(2026, 7, 1, 14, 0, tzinfo=UTC), caller="+15550000001")
    add_callback(engine, datetime(2026, 12, 1, 15, 0, tzinfo=UTC), caller="+15550000002")
    lines = ivr(runner, url, "callbacks").output.splitlines()[1:3]
    assert "2026-12-01 10:00 EST" in lines[0] and "+15550000002" in lines[0]
    assert "2026-07-01 10:00 EDT" in lines[1] and "+15550000001" in lines[1]


def test_ivr_callbacks_done_marks_one_called_back_then_closed(store, runner):
    url, engine = store
    first = add_callback(engine, datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    other = add_callback(engine, datetime(2026, 12, 1, 16, 0, tzinfo=UTC))
    result = ivr(runner, url, "callbacks", "done", str(first))
    assert result.exit_code == 0 and f"Callback #{first} is now called_back." in result.output
    assert ivr(runner, url, "callbacks", "done", str(other), "--status", "closed").exit_code == 0
    statuses = {row["id"]: row["status"] for row in db.list_callbacks(engine)}
    assert statuses == {first: "called_back", other: "closed"}
    listed = ivr(runner, url, "callbacks", "--status", "closed").output
    assert f"\n{other} " in listed and f"\n{first} " not in listed
    # Each change and view on the command line is in the audit trail.
    done = [e["what"] for e in audit.entries(engine) if e["place"].startswith("command line on")]
    assert done[-3:] == [f"callback {first} marked called_back", f"callback {other} marked closed",
                         "1 shown, status closed"]


def test_ivr_callbacks_lists_a_call_back_placed_through_twilio_by_its_progress(store, runner):
    url, engine = store
    waiting = add_callback(engine, datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    unanswered = add_callback(engine, datetime(2026, 12, 1, 16, 0, tzinfo=UTC), status="no_answer")
    listed = ivr(runner, url, "callbacks", "--status", "no_answer")
    assert listed.exit_code == 0, listed.output
    assert f"\n{unanswered} " in listed.output and f"\n{waiting} " not in listed.output
    assert "no_answer" in listed.output


def test_ivr_callbacks_done_with_an_unknown_id_says_what_to_do(store, runner):
    result = ivr(runner, store[0], "callbacks", "done", "999")
    assert result.exit_code == 1
    assert "no callback request #999" in result.output and "ivr callbacks" in result.output


def test_ivr_callbacks_says_so_when_the_list_is_empty(store, runner):
    assert ivr(runner, store[0], "callbacks").output.strip() == "No callback requests."


def test_ivr_callbacks_with_the_database_down_says_what_to_check(runner):
    from tests.conftest import free_port
    result = ivr(runner, f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone", "callbacks")
    assert result.exit_code == 1
    assert "database could not be used" in result.output and "DATABASE_URL" in result.output
    assert "Traceback" not in result.output


# -- `ivr purge` ------------------------------------------------------------------------------

def test_purge_deletes_only_records_past_retention(store, runner):
    url, engine = store
    old, new = datetime.now(UTC) - timedelta(days=40), datetime.now(UTC) - timedelta(days=2)
    # Without recordings: deleting those at Twilio is tests/test_twilio_recordings.py's.
    kept = add_callback(engine, new, call_sid="CAnew", recording_url=None)
    add_callback(engine, old, call_sid="CAold", recording_url=None)
    with engine.begin() as conn:
        for when, sid in ((old, "CAold"), (new, "CAnew")):
            conn.execute(insert(db.calls).values(call_sid=sid, started_at=when, transferred=False))
            conn.execute(insert(db.events).values(at=when, call_sid=sid, outcome="greeted"))
            conn.execute(insert(db.screens).values(call_sid=sid, accepted_at=when))
    result = ivr(runner, url, "purge", "--older-than", "30")
    assert result.exit_code == 0, result.output
    first, second = result.output.strip().splitlines()
    assert first == "Deleted 1 callback, 1 event, 1 call, 1 screen older than 30 days."
    assert second.endswith("0 audit entries older than 2190 days (the audit trail's own retention).")
    with engine.connect() as conn:
        for table, column in ((db.calls, db.calls.c.call_sid), (db.events, db.events.c.call_sid),
                              (db.screens, db.screens.c.call_sid), (db.callbacks, db.callbacks.c.call_sid)):
            assert conn.execute(select(column)).scalars().all() == ["CAnew"], table.name
    assert [row["id"] for row in db.list_callbacks(engine)] == [kept]


def test_purge_refuses_a_negative_retention(store, runner):
    result = ivr(runner, store[0], "purge", "--older-than", "-1")
    assert result.exit_code == 2 and "--older-than" in result.output


# -- the staff page ---------------------------------------------------------------------------

def test_staff_page_lists_the_same_message_without_twilio_s_link(line, store, runner):
    call = leave_message(line)
    page = line.test_client().get("/staff/callbacks")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    # Twilio's link never reaches the page (tests/test_twilio_recordings.py plays it through the line).
    assert recording_of(call) not in html and f'href="tel:{CALLER}"' in html
    assert "Listening and calling back from here are off" in html and "TWILIO_ACCOUNT_SID" in html
    assert "33s" in html and "welcome &gt; detox" in html and ">New<" in html
    cli_row = ivr(runner, store[0], "callbacks").output.splitlines()[1]
    when = re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d E[SD]T", cli_row).group(0)
    assert when in html  # the same local time as the command line


def page_token(client, callback_id: int) -> str:
    """The token the callback page's form for one request carries, read off the page."""
    html = client.get("/staff/callbacks").get_data(as_text=True)
    form = html[html.index(f'action="/staff/callbacks/{callback_id}"'):]
    return re.search(r'name="token" value="([0-9a-f]+)"', form).group(1)


def test_staff_mark_called_back_then_the_list_says_so(line, store):
    leave_message(line)
    client = line.test_client()
    (row,) = db.list_callbacks(store[1])
    token = page_token(client, row["id"])
    done = client.post(f"/staff/callbacks/{row['id']}", data={"status": "called_back", "token": token})
    assert done.status_code == 303
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"Callback {row['id']} is saved." in page and "<td>Called back</td>" in page
    assert db.list_callbacks(store[1])[0]["status"] == "called_back"
    assert "No callback requests marked new." in client.get("/staff/callbacks?status=new").get_data(as_text=True)


def test_staff_mark_refuses_unknown_status_and_unknown_request(line, store):
    leave_message(line)
    client = line.test_client()
    (row,) = db.list_callbacks(store[1])
    bad = client.post(f"/staff/callbacks/{row['id']}", data={"status": "deleted",
                                                              "token": page_token(client, row["id"])})
    assert bad.status_code == 400 and "is not a status" in bad.get_data(as_text=True)
    with line.test_request_context():
        token = staff.form_token(99999)
    missing = client.post("/staff/callbacks/99999", data={"status": "closed", "token": token})
    assert missing.status_code == 404 and "no callback request #99999" in missing.get_data(as_text=True)
    assert db.list_callbacks(store[1])[0]["status"] == "new"


def test_a_form_another_site_makes_the_browser_post_changes_nothing(line, store):
    leave_message(line)
    leave_message(line)
    client = line.test_client()
    first, second = sorted(row["id"] for row in db.list_callbacks(store[1]))
    for forged in ({"status": "closed"}, {"status": "closed", "token": "0" * 32},
                   {"status": "closed", "token": page_token(client, second)}):
        refused = client.post(f"/staff/callbacks/{first}", data=forged)
        assert refused.status_code == 403 and "did not come from the callback page" in refused.get_data(as_text=True)
    assert {row["status"] for row in db.list_callbacks(store[1])} == {"new"}


def test_staff_page_escapes_what_callers_sent(line, store):
    add_callback(store[1], datetime.now(UTC), caller="<script>alert(1)</script>",
                 recording_url="javascript:alert(1)")
    html = line.test_client().get("/staff/callbacks").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in html


@pytest.fixture
def production(store, settings):
    """The line as deployed: signed webhooks and a staff password."""
    app = create_app({**settings, "DATABASE_URL": store[0], "IVR_ENV": "production",
                      "TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL,
                      "IVR_STAFF_PASSWORD": "staff-pass-1"})
    yield app
    parts.storage(app).close()


def test_in_production_the_staff_page_needs_the_staff_password(production, store):
    add_callback(store[1], datetime.now(UTC))
    client = production.test_client()
    for auth in (None, ("staff", "wrong")):
        refused = client.get("/staff/callbacks", auth=auth)
        assert refused.status_code == 401 and "WWW-Authenticate" in refused.headers
        assert CALLER not in refused.get_data(as_text=True)
    (row,) = db.list_callbacks(store[1])
    assert client.post(f"/staff/callbacks/{row['id']}", data={"status": "closed"}).status_code == 401
    assert db.list_callbacks(store[1])[0]["status"] == "new"
    page = client.get("/staff/callbacks", auth=("staff", "staff-pass-1"))
    assert page.status_code == 200 and CALLER in page.get_data(as_text=True)


def test_recording_links_and_numbers_stay_out_of_logs_and_health(line, caplog):
    caplog.set_level(logging.DEBUG)
    call = leave_message(line)
    logged = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert "voicemail" in logged  # the steps were logged...
    assert recording_of(call) not in logged and CALLER not in logged  # ...without either
    health = line.test_client().get("/healthz").get_data(as_text=True)
    assert recording_of(call) not in health and CALLER not in health


def test_recording_callback_before_the_action_still_keeps_the_number(store):
    url, engine = store
    db.recording_done(engine, "CAfirst", "https://api.twilio.com/R/RE9", 14, "es", "welcome")
    db.save_callback(engine, "CAfirst", CALLER, "es", "welcome", "https://api.twilio.com/R/RE9", 14)
    (row,) = db.list_callbacks(engine)
    assert (row["caller"], row["recording_seconds"], row["lang"]) == (CALLER, 14, "es")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.callbacks)).scalar() == 1
