"""Recorded messages through Twilio's API, against the contract stand-in: staff hear them through
the line (ranges, no-store, only our account's, Twilio's failures said plainly), and `ivr purge`
deletes them at Twilio before our rows, keeping what failed for the next purge."""
import logging
from datetime import datetime, timedelta, timezone

import pytest

from ivr import audit, create_app, db, parts
from ivr.cli import main
from ivr.phone import Phone, client_post
from tests.conftest import PUBLIC_URL, ROOT, TOKEN
from tests.staffing import message_call
from tests.test_callbacks import CALLER, add_callback, leave_message
from tests.twilio_standin import ACCOUNT, api_settings, standin, tone_wav, with_audio  # noqa: F401

UTC = timezone.utc
OTHER_ACCOUNT = "AC" + "9e" * 16


@pytest.fixture
def line(settings, standin):
    """The line in process, its REST client pointed at the stand-in."""
    app = create_app({**settings, **api_settings(standin)})
    yield app
    parts.storage(app).close()


def message(app, standin, seconds: float = 2.0) -> tuple[int, str]:
    """A caller leaves a message as Twilio records it for our account: the callback id and RecordingSid."""
    call = Phone(client_post(app.test_client()), caller=CALLER, auth_token=app.config["TWILIO_AUTH_TOKEN"])
    call.account = ACCOUNT  # Twilio's webhooks carry the account the number belongs to
    call.dial_in()
    call.press("0")
    call.ring_ends("no-answer")
    call.ring_ends("busy")
    call.stay_silent()
    call.leave_message(int(seconds))
    sid = with_audio(standin, call, seconds)
    (row,) = [r for r in db.list_callbacks(parts.storage(app).engine) if sid in r["recording_url"]]
    return row["id"], sid


# -- listening --------------------------------------------------------------------------------

def test_staff_hear_a_message_through_the_line_with_the_account_s_credentials(line, standin, caplog):
    caplog.set_level(logging.INFO)
    callback_id, sid = message(line, standin)
    page = line.test_client().get("/staff/callbacks").get_data(as_text=True)
    src = f"/staff/callbacks/{callback_id}/recording"
    assert f'<audio controls preload="none" src="{src}"' in page
    assert "api.twilio.com" not in page and sid not in page and standin.url not in page
    heard = line.test_client().get(src)
    assert heard.status_code == 200 and heard.data == standin.recordings[sid]
    assert heard.headers["Content-Type"].startswith("audio/") and heard.headers["Accept-Ranges"] == "bytes"
    assert heard.headers["Cache-Control"] == "no-store" and "Authorization" not in str(heard.headers)
    assert standin.operations() == ["FetchRecording.media"] and standin.problems == []
    (entry,) = [e for e in audit.entries(parts.storage(line).engine) if e["action"] == "listen"]
    assert entry["what"] == f"callback {callback_id}"  # the audit trail names the callback, not the caller
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert sid not in logged and CALLER not in logged


def test_a_listen_the_audit_trail_cannot_record_is_not_played(line, standin, monkeypatch):
    callback_id, _ = message(line, standin)

    def down(*args, **kwargs):
        raise ConnectionError("the store is down")
    monkeypatch.setattr(audit, "record", down)
    refused = line.test_client().get(f"/staff/callbacks/{callback_id}/recording")
    assert refused.status_code == 503 and "audit trail can't be written" in refused.get_data(as_text=True)
    assert standin.seen == []


def test_a_range_request_gets_just_that_part(line, standin):
    callback_id, sid = message(line, standin, seconds=3)
    audio = standin.recordings[sid]
    part = line.test_client().get(f"/staff/callbacks/{callback_id}/recording", headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.data == audio[100:1100]
    assert part.headers["Content-Range"] == f"bytes 100-1099/{len(audio)}"
    assert part.headers["Content-Length"] == "1000" and part.headers["Cache-Control"] == "no-store"
    tail = line.test_client().get(f"/staff/callbacks/{callback_id}/recording", headers={"Range": "bytes=-44"})
    assert tail.status_code == 206 and tail.data == audio[-44:]
    assert standin.problems == []


@pytest.mark.parametrize("outcome, status, words", [
    (404, 404, "Twilio no longer has the recording"),
    (500, 502, "try again in a minute"),
    ("timeout", 504, "did not answer in time"),
])
def test_twilio_s_failures_are_said_plainly(line, standin, outcome, status, words):
    callback_id, sid = message(line, standin)
    standin.fail("GET", sid, outcome)
    answer = line.test_client().get(f"/staff/callbacks/{callback_id}/recording")
    assert answer.status_code == status and words in answer.get_data(as_text=True)
    assert answer.headers["Cache-Control"] == "no-store" and answer.mimetype == "text/plain"
    assert sid not in answer.get_data(as_text=True)


def test_a_twilio_that_cannot_be_reached_is_said_plainly(settings, standin):
    from tests.conftest import free_port
    app = create_app({**settings, **api_settings(standin), "TWILIO_API_URL": f"http://127.0.0.1:{free_port()}"})
    callback_id, _ = message(app, standin)
    answer = app.test_client().get(f"/staff/callbacks/{callback_id}/recording")
    assert answer.status_code == 504 and "Twilio could not be reached" in answer.get_data(as_text=True)
    assert "TWILIO_API_URL" in answer.get_data(as_text=True)


def test_only_recordings_of_our_own_account_are_fetched(line, standin):
    other = add_callback(parts.storage(line).engine, datetime.now(UTC), recording_url=(
        f"https://api.twilio.com/2010-04-01/Accounts/{OTHER_ACCOUNT}/Recordings/RE{'3c' * 16}"))
    elsewhere = add_callback(parts.storage(line).engine, datetime.now(UTC),
                             recording_url="https://media.example.com/2010-04-01/Recordings/RE1")
    for callback_id, words in ((other, "belongs to another Twilio account"), (elsewhere, "not a Twilio recording URL")):
        answer = line.test_client().get(f"/staff/callbacks/{callback_id}/recording")
        assert answer.status_code == 404 and words in answer.get_data(as_text=True)
    assert standin.seen == []  # nothing was asked of Twilio, let alone of another host


def test_wrong_credentials_are_named_not_shown(settings, standin):
    app = create_app({**settings, **api_settings(standin), "TWILIO_AUTH_TOKEN": "not-the-token"})
    callback_id, _ = message(app, standin)
    answer = app.test_client().get(f"/staff/callbacks/{callback_id}/recording")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 502 and "refused the line's credentials" in text and "TWILIO_AUTH_TOKEN" in text
    assert "not-the-token" not in text


def test_without_credentials_the_line_answers_and_says_listening_is_off(settings):
    app = create_app(settings)
    leave_message(app)  # the line still takes the call and its message
    (row,) = db.list_callbacks(parts.storage(app).engine)
    answer = app.test_client().get(f"/staff/callbacks/{row['id']}/recording")
    assert answer.status_code == 503 and "Listening through the line is off" in answer.get_data(as_text=True)
    assert "TWILIO_ACCOUNT_SID" in answer.get_data(as_text=True)


def test_in_production_the_recording_needs_the_staff_password(settings, standin):
    app = create_app({**settings, **api_settings(standin), "IVR_ENV": "production",
                      "IVR_PUBLIC_URL": PUBLIC_URL, "IVR_STAFF_PASSWORD": "staff-pass-1",
                      "TWILIO_API_URL": standin.url.replace("http://", "https://")})
    callback_id = add_callback(parts.storage(app).engine, datetime.now(UTC), recording_url=(
        f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE{'4d' * 16}"))
    refused = app.test_client().get(f"/staff/callbacks/{callback_id}/recording")
    assert refused.status_code == 401 and standin.seen == []


def test_a_message_plays_through_gunicorn_with_ranges(serve, standin):
    server = serve({**api_settings(standin), "IVR_SECRET_KEY": "test-secret"})
    call = message_call(server, ACCOUNT, seconds=3, caller=CALLER)
    sid = with_audio(standin, call, 3)
    import urllib.request
    page = urllib.request.urlopen(server.base + "/staff/callbacks", timeout=10).read().decode()
    src = page.split('<audio controls preload="none" src="', 1)[1].split('"', 1)[0]
    ask = urllib.request.Request(server.base + src, headers={"Range": "bytes=0-43"})
    with urllib.request.urlopen(ask, timeout=10) as part:
        assert part.status == 206 and part.read() == standin.recordings[sid][:44]
        assert part.headers["Cache-Control"] == "no-store"
    with urllib.request.urlopen(server.base + src, timeout=10) as whole:
        assert whole.read() == standin.recordings[sid]
    assert standin.problems == []


# -- purge --------------------------------------------------------------------------------------

def purge(runner, url: str, standin, *args, **env):
    """Run `ivr purge` against a store, with the REST client pointed at the stand-in."""
    return runner.invoke(main, ["purge", *args], env={
        "DATABASE_URL": url, "IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml"),
        **(api_settings(standin) if standin else {}), **env})


def old_message(engine, standin, days: int = 40, account: str = ACCOUNT) -> tuple[int, str]:
    """A callback request from `days` ago whose recording is at the stand-in."""
    sid, url = standin.add_recording(0.2, account=account)
    return add_callback(engine, datetime.now(UTC) - timedelta(days=days), recording_url=url), sid


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'purge.db'}"
    engine = db.connect(url)
    yield url, engine
    engine.dispose()


def test_purge_deletes_recordings_at_twilio_then_rows_and_retries_what_failed(store, standin, runner):
    url, engine = store
    deleted, deleted_sid = old_message(engine, standin)
    lost, lost_sid = old_message(engine, standin)
    standin.recordings.pop(lost_sid)  # Twilio lost it already: a 404 counts as deleted
    failing, failing_sid = old_message(engine, standin)
    recent, recent_sid = old_message(engine, standin, days=2)
    standin.fail("DELETE", failing_sid, 500, times=1)

    first = purge(runner, url, standin, "--older-than", "30")
    assert first.exit_code == 1
    assert "Deleted 2 recordings at Twilio (1 of them Twilio no longer had)." in first.stdout
    assert "Deleted 2 callbacks" in first.stdout
    assert f"Callback #{failing} kept: Twilio refused to delete recording {failing_sid}: HTTP 500" in first.stderr
    assert "1 callback request remains" in first.stderr and "run `ivr purge` again" in first.stderr
    assert sorted(r["id"] for r in db.list_callbacks(engine)) == sorted([failing, recent])
    assert set(standin.recordings) == {failing_sid, recent_sid}

    again = purge(runner, url, standin, "--older-than", "30")
    assert again.exit_code == 0, again.output
    assert "Deleted 1 recording at Twilio." in again.stdout and "Deleted 1 callback," in again.stdout
    assert [r["id"] for r in db.list_callbacks(engine)] == [recent] and set(standin.recordings) == {recent_sid}
    deletes = [s.path for s in standin.seen if s.operation == "DeleteRecording"]
    assert len(deletes) == 4 and all(f"/Accounts/{ACCOUNT}/Recordings/RE" in p for p in deletes)
    assert standin.problems == []


def test_purge_keeps_a_row_whose_delete_timed_out(store, standin, runner):
    url, engine = store
    kept, sid = old_message(engine, standin)
    standin.fail("DELETE", sid, "timeout")
    result = purge(runner, url, standin, "--older-than", "30")
    assert result.exit_code == 1 and "did not answer in time" in result.stderr
    assert [r["id"] for r in db.list_callbacks(engine)] == [kept]


def test_purge_dry_run_lists_what_would_go_and_deletes_nothing(store, standin, runner):
    url, engine = store
    first, first_sid = old_message(engine, standin)
    other, _ = old_message(engine, standin, account=OTHER_ACCOUNT)
    silent = add_callback(engine, datetime.now(UTC) - timedelta(days=50), recording_url=None)
    old_message(engine, standin, days=1)
    result = purge(runner, url, standin, "--older-than", "30", "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"callback #{first} of " in out and f"recording {first_sid} at Twilio, then the row" in out
    assert f"callback #{other} of " in out and "nothing, it stays: its recording belongs to another Twilio account" in out
    assert f"callback #{silent} of " in out and "the row (no recording)" in out
    assert "2 callbacks" in out and "Nothing was deleted (--dry-run)." in out
    assert len(db.list_callbacks(engine)) == 4 and len(standin.recordings) == 3
    assert [s for s in standin.seen if s.method == "DELETE"] == []


def test_purge_older_than_0_takes_everything_up_to_now(store, standin, runner):
    url, engine = store
    just_now, sid = old_message(engine, standin, days=0)
    result = purge(runner, url, standin, "--older-than", "0")
    assert result.exit_code == 0, result.output
    assert "Deleted 1 recording at Twilio." in result.stdout and db.list_callbacks(engine) == []
    assert sid not in standin.recordings


def test_purge_never_deletes_another_account_s_recording_or_loses_track_of_it(store, standin, runner):
    url, engine = store
    other, other_sid = old_message(engine, standin, account=OTHER_ACCOUNT)
    result = purge(runner, url, standin, "--older-than", "30")
    assert result.exit_code == 1 and "belongs to another Twilio account" in result.stderr
    assert [r["id"] for r in db.list_callbacks(engine)] == [other] and other_sid in standin.recordings
    assert standin.seen == []


def test_purge_without_credentials_keeps_rows_with_recordings_and_says_what_to_set(store, standin, runner):
    url, engine = store
    kept, sid = old_message(engine, standin)
    gone = add_callback(engine, datetime.now(UTC) - timedelta(days=40), recording_url=None)
    result = purge(runner, url, None, "--older-than", "30")
    assert result.exit_code == 1
    assert f"Callback #{kept} kept: Twilio's API is off: set TWILIO_ACCOUNT_SID" in result.stderr
    assert [r["id"] for r in db.list_callbacks(engine)] == [kept] and gone != kept


def test_purge_refuses_an_http_api_in_production(store, standin, runner):
    result = purge(runner, store[0], standin, "--older-than", "30", IVR_ENV="production")
    assert result.exit_code == 1 and "TWILIO_API_URL" in result.output and "https" in result.output
    assert standin.seen == []

