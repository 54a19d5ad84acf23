"""A database that is down never breaks a call: the caller is greeted, put through and recorded,
the failure is logged without the caller's number, and the line stops waiting on the store."""
import logging
import socket
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from prometheus_client import REGISTRY

from ivr import create_app, db
from ivr.db import SAY_EVERY
from ivr.phone import Phone, client_post
from tests.conftest import free_port

CALLER = "+15551239876"


class Relay:
    """A TCP relay to PostgreSQL that can be cut, like a database server going away mid-shift."""

    def __init__(self, target: tuple, port: int = 0):
        self.target, self.sockets, self.open = target, [], True
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", port))
        self.server.listen()
        self.server.settimeout(0.05)
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.open:
            try:
                client, _ = self.server.accept()
            except OSError:
                continue
            client.settimeout(None)
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (a, b):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        """Stop taking connections and drop every open one."""
        self.open = False
        self.server.close()
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def whole_call(app, stored: bool = True) -> Phone:
    """Greeting, guidance, 0, two rings nobody takes, a message, then the caller hangs up."""
    call = Phone(client_post(app.test_client()), caller=CALLER)
    call.dial_in()
    assert "To learn about detox, press 1" in call.said()
    call.press("1")
    call.press("0")
    assert call.waiting == "dial" and call.last_dial.numbers == ("+15555550100", "+15555550101")
    call.ring_ends("no-answer")
    call.ring_ends("no-answer")
    call.stay_silent()
    assert call.waiting == "record"
    start = len(call.heard)
    call.leave_message(30)
    # "Saved" only when the store has it; else the truth, and a counselor offered again.
    assert ("message is saved" in call.said(start)) == stored and call.waiting == "gather"
    assert ("could not save your message" in call.said(start)) != stored
    call.hang_up()
    return call


def store_failures(caplog) -> list:
    """The store failures logged, as (exception type, full text with traceback)."""
    return [(r.exc_info[0] if r.exc_info else None, logging.Formatter().format(r))
            for r in caplog.records if r.name == "ivr.db" and "store unavailable" in r.getMessage()]


def unreachable_line(settings):
    """The line with DATABASE_URL at a PostgreSQL port where nothing listens."""
    app = create_app({**settings, "DATABASE_URL":
                      f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/ivr"})
    app.extensions["ivr.db"].RETRY_AFTER = 3600  # the whole test is one back-off period
    return app


def store_lines(caplog) -> list:
    """What the store said in the log, one text per record."""
    return [r.getMessage() for r in caplog.records if r.name == "ivr.db"]


def counted(what: str) -> float:
    """ivr_store_failures_total for one kind of loss, in this process."""
    return REGISTRY.get_sample_value("ivr_store_failures_total", {"what": what}) or 0.0


def test_a_call_flows_with_the_database_down_and_the_failure_is_counted_and_said_once_a_minute(settings, caplog):
    caplog.set_level(logging.INFO)
    before = {what: counted(what) for what in ("events", "callback")}
    app = unreachable_line(settings)
    storage = app.extensions["ivr.db"]
    said = store_lines(caplog)
    assert len(said) == 1 and said[0].startswith("the store is unreachable at start-up")
    failed_at = storage._failed_at  # the start-up look found it down: calls skip it from then on
    assert failed_at is not None
    call = whole_call(app, stored=False)
    said = store_lines(caplog)[1:]
    # A lost message is said every time, with the CallSid that finds it in Twilio's console;
    # the call's events and records are counted, not said again within the minute.
    assert [line.split(" (")[0] for line in said] == [
        f"store unavailable: could not store the callback request of CallSid {call.call_sid}",
        f"store unavailable: could not update the recording of CallSid {call.call_sid}"]
    assert "the store is down (connection failed" in said[0]
    assert counted("events") - before["events"] >= 3  # the call's start, its steps and its end
    assert counted("callback") - before["callback"] == 2  # the message and its recording callback
    everything = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert CALLER not in everything and CALLER[2:] not in everything
    whole_call(app, stored=False)  # skipping the store does not push the next try further away
    assert storage._failed_at == failed_at
    storage._said_at -= SAY_EVERY  # a minute on: the next failure is said, with how many were not
    caplog.clear()
    Phone(client_post(app.test_client()), caller=CALLER).dial_in()
    said = store_lines(caplog)
    assert len(said) == 1 and said[0].startswith("store unavailable: could not note a new call")
    assert "more store failures in the last minute were not logged" in said[0]


def test_healthz_says_the_store_is_down_with_the_reason_and_no_password(settings):
    app = create_app({**settings, "DATABASE_URL": f"postgres://postgres:s3cret-pw@127.0.0.1:{free_port()}/ivr"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 200  # calls are still answered
    body = response.get_json()
    assert body["store"]["state"] == "down" and "Connection refused" in body["store"]["reason"]
    assert body["store"]["url"].startswith("postgresql+psycopg://postgres:***@127.0.0.1:")
    assert "the store is down" in body["status"] and body["flow"]["version"]
    assert "s3cret-pw" not in response.get_data(as_text=True)


def test_healthz_says_the_store_is_up(client):
    store = client.get("/healthz").get_json()["store"]
    assert store["state"] == "up" and store["url"].startswith("sqlite:///") and "reason" not in store


def test_with_the_database_down_a_screened_counselor_still_takes_the_call(settings):
    app = unreachable_line(settings)
    call = Phone(client_post(app.test_client()), caller=CALLER)
    call.dial_in()
    call.press("0")
    call.ring_ends("completed", counselor_keys="1", duration=300)
    assert call.heard[-1].kind == "hangup" and "Thank you for calling" in call.said()


def test_with_the_database_down_a_declined_whisper_still_leads_on(settings):
    app = unreachable_line(settings)
    call = Phone(client_post(app.test_client()), caller=CALLER)
    call.dial_in()
    call.press("0")
    call.ring_ends("completed", counselor_keys="")
    assert call.waiting == "dial" and call.last_dial.numbers == ("+15555550110",)


def test_staff_page_says_the_database_is_unreachable(settings):
    page = unreachable_line(settings).test_client().get("/staff/callbacks")
    assert page.status_code == 503
    assert "database is unreachable" in page.get_data(as_text=True)


def test_a_database_that_goes_away_mid_shift_is_skipped_then_used_again(postgres_url, settings, caplog):
    caplog.set_level(logging.INFO)
    target = make_url(postgres_url)
    relay = Relay((target.host, target.port or 5432))
    url = target.set(port=relay.port).render_as_string(hide_password=False)
    app = create_app({**settings, "DATABASE_URL": url})
    storage = app.extensions["ivr.db"]
    try:
        whole_call(app)
        assert not store_failures(caplog)
        relay.cut()
        storage.RETRY_AFTER = 3600
        cut = whole_call(app, stored=False)
        failures = store_failures(caplog)
        assert failures and any(f"callback request of CallSid {cut.call_sid}" in text_ for _, text_ in failures)
        health = app.test_client().get("/healthz")
        assert health.status_code == 200 and health.get_json()["store"]["state"] == "down"
        relay = Relay((target.host, target.port or 5432), port=relay.port)
        storage.RETRY_AFTER = 0  # the back-off is over: the next call reaches the store again
        later = whole_call(app)
        assert len(store_failures(caplog)) == len(failures)
        assert app.test_client().get("/healthz").get_json()["store"]["state"] == "up"
        assert any(line.startswith("the store works again") for line in store_lines(caplog))
        with storage.engine.connect() as conn:
            found = conn.execute(text("SELECT count(*) FROM callbacks WHERE call_sid = :sid"),
                                 {"sid": later.call_sid}).scalar()
        assert found == 1
    finally:
        relay.cut()
        storage.close()


def test_a_failed_statement_never_logs_the_callers_number(settings, caplog, tmp_path):
    caplog.set_level(logging.INFO)
    app = create_app({**settings, "DATABASE_URL": f"sqlite:///{tmp_path / 'broken.db'}"})
    engine = app.extensions["ivr.db"].engine
    with engine.begin() as conn:  # a store that finds requests but cannot take a new one
        conn.execute(text("DROP TABLE callbacks"))
        conn.execute(text("CREATE TABLE callbacks (id INTEGER PRIMARY KEY, created_at TIMESTAMP, "
                          "updated_at TIMESTAMP, call_sid TEXT, lang TEXT, path TEXT, "
                          "recording_url TEXT, recording_seconds INTEGER, status TEXT)"))
    whole_call(app, stored=False)
    failures = store_failures(caplog)
    # The statement that carried the number failed (SQLite names the missing column).
    assert any("callback request" in text_ and "no such column: caller" in text_ for _, text_ in failures)
    everything = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert CALLER not in everything


def test_every_store_function_the_failure_counts_name_is_where_it_says():
    # A store function moved to another module would be counted as "other", and a lost message
    # no longer said in the log every time: each name must still reach the function it names.
    import importlib
    kinds: dict = {}
    for name, kind in db.KINDS.items():
        module, function = name.rsplit(".", 1)
        found = getattr(importlib.import_module(module), function)
        assert f"{found.__module__}.{found.__name__}" == name
        kinds.setdefault(kind, set()).add(found)
    assert kinds["callback"] == {db.save_callback, db.recording_done}
    assert kinds["screen"] >= {db.mark_accepted} and kinds["read"] >= {db.was_accepted, db.list_callbacks}
